"""A local stand-in for an API Gateway HTTP API (Lambda proxy integrations, payload format 1.0 or 2.0).

``ApiGateway`` binds a ``ThreadingHTTPServer`` on 127.0.0.1, matches each request against the
template's ``HttpApi`` events the way HTTP API selects a route (a literal path segment beats a
``{param}`` segment, which beats a greedy ``{proxy+}``; a route's own method beats ``ANY``; what no
route takes goes to the ``$default`` route), builds the event HTTP API would send in the route's
payload format and invokes the handler in-process with a Lambda-like context.

HTTP API has no gateway responses: its own answers are bare ``{"message": ...}`` bodies, and this
emulation answers the same ones: 404 ``Not Found`` when neither a route nor ``$default`` takes the
request, 413 ``Request Entity Too Large`` above 10 MB, 500 ``Internal Server Error`` when the
function raises, returns what is not a valid response, or cannot be invoked (an event over Lambda's
6 MB invocation payload). Stage and route throttling is not emulated (the in-app per-tenant limit is).

One ``FunctionRuntime`` (``local_stack.lambdas``) per function plays the role of a single warm
Lambda container: the handler module is imported on the first request (cold start) and
invocations are serialized by a lock; the event source pumps share the same runtimes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.lambdas import FunctionRuntime, Handler, ms_since
from local_stack.loopback_http import LoopbackHandler, LoopbackServer
from local_stack.template import ACCOUNT_ID, DEFAULT_REGION, DEFAULT_ROUTE, ApiRoute, FunctionSpec

_SECRET_QUERY = re.compile(r"([?&]token=)[^&#]*")


def loggable_path(target: str) -> str:
    """The request target for the access log, a portal link's one-time ``token`` blanked out."""
    return _SECRET_QUERY.sub(r"\1<redacted>", target)


log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request payload limit
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024  # a synchronous invocation's request (event) and response limit
API_ID = "local"

# HTTP API's own answers (it has no gateway responses to shape them): status -> body message.
NOT_FOUND = (404, "Not Found")
REQUEST_TOO_LARGE = (413, "Request Entity Too Large")
INTERNAL_SERVER_ERROR = (500, "Internal Server Error")

# Never copied from a proxy response: the server computes its own framing.
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}

# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    """Path segments; a single trailing slash is ignored (``/a/b/`` is ``/a/b``)."""
    if path.endswith("/") and path != "/":
        path = path[:-1]
    return path.split("/")[1:] if path != "/" else []


@dataclass(frozen=True)
class Resource:
    """One route path of the API (as in the template) and the routes on it, by method."""

    path: str
    segments: tuple[str, ...]
    methods: dict[str, tuple[ApiRoute, FunctionSpec]] = field(default_factory=dict, compare=False)

    def match(self, request_segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity, path parameters) if the request path fits this path; lower is more specific."""
        specificity: list[int] = []
        parameters: dict[str, str] = {}
        for index, template_segment in enumerate(self.segments):
            if template_segment.startswith("{") and template_segment.endswith("+}"):
                rest = request_segments[index:]
                if index != len(self.segments) - 1 or not rest or any(not part for part in rest):
                    return None
                parameters[template_segment[1:-2]] = "/".join(unquote(part) for part in rest)
                specificity.append(2)
                return (*specificity,), parameters
            if index >= len(request_segments):
                return None
            segment = request_segments[index]
            if template_segment.startswith("{") and template_segment.endswith("}"):
                if not segment:
                    return None
                parameters[template_segment[1:-1]] = unquote(segment)
                specificity.append(1)
            elif unquote(segment) == template_segment:
                specificity.append(0)
            else:
                return None
        if len(request_segments) != len(self.segments):
            return None
        return (*specificity,), parameters


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    function: FunctionSpec
    path_parameters: dict[str, str]

    @property
    def resource_path(self) -> str:
        return self.route.path


class RouteTable:
    """HTTP API's route selection: the most specific path among the routes that accept the method
    (the route's own method before ``ANY``), else the ``$default`` route, else nothing."""

    def __init__(self, functions: Iterable[FunctionSpec]) -> None:
        self.resources: dict[str, Resource] = {}
        self.default: tuple[ApiRoute, FunctionSpec] | None = None
        for function in functions:
            for route in function.routes:
                if route.is_default:
                    if self.default is not None:
                        other = self.default[1].logical_id
                        raise ValueError(f"$default is bound to both {other} and {function.logical_id}")
                    self.default = (route, function)
                    continue
                resource = self.resources.setdefault(route.path, Resource(route.path, tuple(_segments(route.path))))
                if route.method in resource.methods:
                    other = resource.methods[route.method][1].logical_id
                    raise ValueError(f"{route.method} {route.path} is bound to both {other} and {function.logical_id}")
                resource.methods[route.method] = (route, function)

    def match(self, method: str, path: str) -> RouteMatch | None:
        request_segments = _segments(path)
        best: tuple[tuple[int, ...], int, ApiRoute, FunctionSpec, dict[str, str]] | None = None
        for resource in self.resources.values():
            found = resource.match(request_segments)
            if found is None:
                continue
            for exactness, key in enumerate((method.upper(), "ANY")):
                bound = resource.methods.get(key)
                if bound is not None:
                    candidate = (found[0], exactness, bound[0], bound[1], found[1])
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
                    break
        if best is not None:
            return RouteMatch(route=best[2], function=best[3], path_parameters=best[4])
        if self.default is not None:
            return RouteMatch(route=self.default[0], function=self.default[1], path_parameters={})
        return None


# --------------------------------------------------------------------------------------------
# Events and responses
# --------------------------------------------------------------------------------------------


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """Payload 1.0's two views of repeated keys: last value wins, and every value in order."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return (single or None), (multi or None)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # as on the request line: path plus query
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


def split_target(target: str) -> tuple[str, str]:
    """(raw path, raw query) of a request-line target (origin form, or absolute form)."""
    if target.startswith(("http://", "https://")):
        url = urlsplit(target)
        return url.path or "/", url.query
    path, _, query = target.partition("#")[0].partition("?")
    return path or "/", query


def new_request_id() -> str:
    """An HTTP API request id: 16 base64 characters ending in ``=`` (e.g. ``Bdd2ngt5iGYEMIg=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")[:15] + "="


def _forwarded_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The request's headers plus those HTTP API adds before invoking the integration."""
    present = {name.lower() for name, _ in request.headers}
    added = [
        ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"),
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    return [*request.headers, *((name, value) for name, value in added if name.lower() not in present)]


def _body(request: HttpRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode("ascii"), True


def build_proxy_event(request: HttpRequest, match: RouteMatch, stage: str, request_id: str | None = None) -> dict[str, Any]:
    """The event HTTP API sends a Lambda integration for ``request``, in the route's payload format."""
    if match.route.payload_format_version == "2.0":
        return build_v2_event(request, match, stage, request_id)
    return build_v1_event(request, match, stage, request_id)


def _stage_path(stage: str, path: str) -> str:
    return path if stage == DEFAULT_ROUTE else f"/{stage}{path}"


def build_v1_event(request: HttpRequest, match: RouteMatch, stage: str, request_id: str | None = None) -> dict[str, Any]:
    """Payload format 1.0 (REST-like): ``resource``/``resourcePath`` are the route's path, or
    ``$default`` for the ``$default`` route; ``resourceId`` is the route key; no ``routeKey`` field."""
    raw_path, raw_query = split_target(request.target)
    path = unquote(raw_path)
    forwarded = _forwarded_headers(request)
    headers, multi_headers = _single_and_multi(forwarded)
    query, multi_query = _single_and_multi(parse_qsl(raw_query, keep_blank_values=True))
    now = datetime.now(UTC)
    user_agent = next((value for key, value in request.headers if key.lower() == "user-agent"), None)
    host = next((value for key, value in request.headers if key.lower() == "host"), HOST)
    body, is_base64 = _body(request)
    request_id = request_id or new_request_id()
    resource = match.route.path
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "authorizer": {"claims": None, "scopes": None},
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": _stage_path(stage, path),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": match.route.route_key,
            "resourcePath": resource,
            "stage": stage,
        },
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def build_v2_event(request: HttpRequest, match: RouteMatch, stage: str, request_id: str | None = None) -> dict[str, Any]:
    """Payload format 2.0: lower-case headers with repeated values joined by commas, cookies apart."""
    raw_path, raw_query = split_target(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _forwarded_headers(request):
        if name.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    body, is_base64 = _body(request)
    host = headers.get("host", HOST)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": _stage_path(stage, raw_path),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": _stage_path(stage, unquote(raw_path)),
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id or new_request_id(),
            "routeKey": match.route.route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if body is not None:
        event["body"] = body
    return event


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_answer(status_and_message: tuple[int, str], request_id: str | None = None) -> HttpResponse:
    """One of HTTP API's own, unshaped answers: ``{"message": "..."}`` with its request id."""
    status, message = status_and_message
    headers = [("Content-Type", "application/json"), ("apigw-requestid", request_id or new_request_id())]
    return HttpResponse(status, headers, json.dumps({"message": message}, separators=(",", ":")).encode())


class MalformedProxyResponse(ValueError):
    pass


def _header_pairs(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Merge ``headers`` and ``multiValueHeaders`` (payload 1.0: multi-value wins per name)."""
    multi = result.get("multiValueHeaders") or {}
    single = result.get("headers") or {}
    if not isinstance(multi, Mapping) or not isinstance(single, Mapping):
        raise MalformedProxyResponse("headers / multiValueHeaders must be objects")
    pairs: list[tuple[str, str]] = []
    multi_names = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in multi_names:
            pairs.append((str(name), str(value)))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{name!r}] must be a list")
        pairs.extend((str(name), str(value)) for value in values)
    return [(name, value) for name, value in pairs if name.lower() not in _HOP_BY_HOP]


def proxy_response(result: Any, payload_format_version: str = "1.0") -> HttpResponse:
    """Turn a handler's result into the HTTP response; ``MalformedProxyResponse`` if invalid.

    With payload 2.0 a result without ``statusCode`` is itself the JSON body of a 200."""
    if payload_format_version == "2.0" and not (isinstance(result, Mapping) and "statusCode" in result):
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    if not isinstance(result, Mapping) or "statusCode" not in result:
        raise MalformedProxyResponse("the handler result is not an object with a statusCode")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise MalformedProxyResponse(f"statusCode {result['statusCode']!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status} is out of range")
    headers = _header_pairs(result)
    if payload_format_version == "2.0":
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise MalformedProxyResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except binascii.Error:
            raise MalformedProxyResponse("isBase64Encoded is true but the body is not base64") from None
    else:
        body = raw_body.encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, body)


# --------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------


class ApiGateway:
    """Routes HTTP requests to in-process handlers. Binding happens in the constructor."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        stage: str = DEFAULT_ROUTE,
        port: int = 0,
        region: str = DEFAULT_REGION,
        host: str = HOST,
        handlers: Mapping[str, Handler] | None = None,
        runtimes: Mapping[str, FunctionRuntime] | None = None,
    ) -> None:
        """``handlers`` (logical id -> callable) replaces importing those functions' modules (tests);
        ``runtimes`` (logical id -> runtime) shares runtimes, hence each function's lock, with the pumps."""
        specs = list(functions)
        handlers = handlers or {}
        shared = runtimes or {}
        self.stage = stage
        self.routes = RouteTable(specs)
        self.runtimes = {
            spec.logical_id: shared.get(spec.logical_id) or FunctionRuntime(spec, region, handlers.get(spec.logical_id))
            for spec in specs
            if spec.routes
        }
        self.server = _GatewayServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        path = split_target(request.target)[0]
        match = self.routes.match(request.method, path)
        if match is None:
            return gateway_answer(NOT_FOUND, request_id)
        event = build_proxy_event(request, match, self.stage, request_id)
        if len(json.dumps(event).encode()) > LAMBDA_PAYLOAD_BYTES:
            log.error("%s %s: the event is over Lambda's 6 MB invocation payload", request.method, path)
            return gateway_answer(INTERNAL_SERVER_ERROR, request_id)
        runtime = self.runtimes[match.function.logical_id]
        try:
            response = proxy_response(runtime.invoke(event), match.route.payload_format_version)
        except MalformedProxyResponse as error:
            log.error("%s returned a malformed proxy response: %s", match.function.logical_id, error)
        except Exception:
            log.exception("%s raised while handling %s %s", match.function.logical_id, request.method, request.target)
        else:
            return HttpResponse(response.status, [*response.headers, ("apigw-requestid", request_id)], response.body)
        return gateway_answer(INTERNAL_SERVER_ERROR, request_id)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="apigw", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server.server_close()
        self.server.close_connections()
        self.server.join_handler_threads(timeout=2)


class _GatewayServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], gateway: ApiGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _RequestHandler, thread_name="apigw-conn")


class _RequestHandler(LoopbackHandler):
    server_version = "local-apigw"
    max_body_bytes = MAX_PAYLOAD_BYTES
    server: _GatewayServer

    def _handle(self) -> None:
        started = time.perf_counter()
        body = self.read_body()
        if body is None:
            response = gateway_answer(REQUEST_TOO_LARGE)
            self.close_connection = True
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            response = self.server.gateway.handle(request)
        self._write(response)
        log.info("%s %s -> %d (%.0f ms)", self.command, loggable_path(self.path), response.status, ms_since(started))

    def _write(self, response: HttpResponse) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) reaches the router too: an ANY route or $default takes it, as in HTTP API.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)
