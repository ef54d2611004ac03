"""A local stand-in for API Gateway REST APIs (Lambda proxy integration, payload format 1.0).

``ApiGateway`` binds a ``ThreadingHTTPServer`` on 127.0.0.1, matches each request against the
template's ``Api`` events the way API Gateway does (a literal path segment beats a ``{param}``
segment, which beats a greedy ``{proxy+}``), builds the proxy event API Gateway would send and
invokes the handler in-process with a Lambda-like context.

One ``FunctionRuntime`` (``local_stack.lambdas``) per function plays the role of a single warm
Lambda container: the handler module is imported on the first request (cold start) and
invocations are serialized by a lock; the event source pumps share the same runtimes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_stack.lambdas import FunctionRuntime, Handler, ms_since
from local_stack.loopback_http import LoopbackHandler, LoopbackServer
from local_stack.template import ACCOUNT_ID, DEFAULT_REGION, ApiRoute, FunctionSpec

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit

# API Gateway's own answers, as template.yaml's GatewayResponses shape them (Shipper's envelope with
# x-request-id): (status, Shipper code, message). tests/unit/test_gateway_responses.py keeps the two equal.
GATEWAY_RESPONSES: dict[str, tuple[int, int, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (404, 810, "No resource at this path and method"),
    "REQUEST_TOO_LARGE": (413, 810, "Invalid Input. body: is larger than 10 MB"),
    "INTEGRATION_FAILURE": (502, 803, "Internal server error."),
}

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
    """One API Gateway resource (a template path) and its methods."""

    path: str
    segments: tuple[str, ...]
    methods: dict[str, tuple[ApiRoute, FunctionSpec]] = field(default_factory=dict, compare=False)

    def match(self, request_segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity, path parameters) if the request path fits this resource; lower is more specific."""
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
    resource_path: str
    path_parameters: dict[str, str]


class RouteTable:
    """API Gateway's resource tree, flattened: the most specific matching resource wins."""

    def __init__(self, functions: Iterable[FunctionSpec]) -> None:
        self.resources: dict[str, Resource] = {}
        for function in functions:
            for route in function.routes:
                resource = self.resources.setdefault(route.path, Resource(route.path, tuple(_segments(route.path))))
                if route.method in resource.methods:
                    other = resource.methods[route.method][1].logical_id
                    raise ValueError(f"{route.method} {route.path} is bound to both {other} and {function.logical_id}")
                resource.methods[route.method] = (route, function)

    def match(self, method: str, path: str) -> RouteMatch | None:
        request_segments = _segments(path)
        best: tuple[tuple[int, ...], Resource, dict[str, str]] | None = None
        for resource in self.resources.values():
            found = resource.match(request_segments)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], resource, found[1])
        if best is None:
            return None
        _, resource, parameters = best
        bound = resource.methods.get(method.upper()) or resource.methods.get("ANY")
        if bound is None:
            return None  # API Gateway answers a missing method like a missing resource
        return RouteMatch(route=bound[0], function=bound[1], resource_path=resource.path, path_parameters=parameters)


# --------------------------------------------------------------------------------------------
# Proxy event and response
# --------------------------------------------------------------------------------------------


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated keys: last value wins, and every value in order."""
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


def build_proxy_event(request: HttpRequest, match: RouteMatch, stage: str) -> dict[str, Any]:
    """The event API Gateway (REST API, Lambda proxy integration) sends for ``request``."""
    raw_path, raw_query = split_target(request.target)
    path = unquote(raw_path)
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(parse_qsl(raw_query, keep_blank_values=True))
    now = datetime.now(UTC)
    user_agent = next((value for key, value in request.headers if key.lower() == "user-agent"), None)
    host = next((value for key, value in request.headers if key.lower() == "host"), HOST)
    body: str | None = None
    is_base64 = False
    if request.body:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    return {
        "resource": match.resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": secrets.token_hex(3),
            "resourcePath": match.resource_path,
            "httpMethod": request.method,
            "extendedRequestId": secrets.token_urlsafe(12),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".", 1)[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "apiKey": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": host,
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_response(kind: str, path: str, now: float | None = None) -> HttpResponse:
    """The gateway's own answer ``kind`` (a GatewayResponses type) for a request to ``path``."""
    status, code, message = GATEWAY_RESPONSES[kind]
    body = {
        "metadata": {
            "path": path,
            "http_status_code": status,
            "http_status": HTTPStatus(status).phrase,
            "timestamp": int(time.time() if now is None else now),
            "errors": [{"code": code, "message": message}],
        }
    }
    headers = [("Content-Type", "application/json"), ("x-request-id", str(uuid.uuid4()))]
    return HttpResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())


def missing_authentication_token(path: str) -> HttpResponse:
    """An unknown route or method (API Gateway's MISSING_AUTHENTICATION_TOKEN, shaped as a 404)."""
    return gateway_response("MISSING_AUTHENTICATION_TOKEN", path)


def internal_server_error(path: str) -> HttpResponse:
    return gateway_response("INTEGRATION_FAILURE", path)


class MalformedProxyResponse(ValueError):
    pass


def _header_pairs(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Merge ``headers`` and ``multiValueHeaders`` as API Gateway does (multi-value wins per name)."""
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


def proxy_response(result: Any) -> HttpResponse:
    """Turn a handler's proxy result into the HTTP response; ``MalformedProxyResponse`` if invalid."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        raise MalformedProxyResponse("the handler result is not an object with a statusCode")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise MalformedProxyResponse(f"statusCode {result['statusCode']!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status} is out of range")
    headers = _header_pairs(result)
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
        stage: str,
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
        path = split_target(request.target)[0]
        match = self.routes.match(request.method, path)
        if match is None:
            return missing_authentication_token(path)
        event = build_proxy_event(request, match, self.stage)
        runtime = self.runtimes[match.function.logical_id]
        try:
            return proxy_response(runtime.invoke(event))
        except MalformedProxyResponse as error:
            log.error("%s returned a malformed proxy response: %s", match.function.logical_id, error)
        except Exception:
            log.exception("%s raised while handling %s %s", match.function.logical_id, request.method, request.target)
        return internal_server_error(path)

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
            response = gateway_response("REQUEST_TOO_LARGE", split_target(self.path)[0])
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
        log.info("%s %s -> %d (%.0f ms)", self.command, self.path, response.status, ms_since(started))

    def _write(self, response: HttpResponse) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) reaches the router too, which answers like API Gateway (404 here).
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)
