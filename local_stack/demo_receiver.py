"""A demo client receiver: plays the client side of the hub's four callback formats, on 127.0.0.1 only.

``DemoReceiver`` hosts all four formats on one port, each under its own path prefix. It records
every request, dedupes events like a real client would, checks each format's auth, and can be
told to fail, so the local stack, tests and benchmarks can watch and break the hub's deliveries.

Routes (``<format>/<anything>`` means any path below the prefix; the prefix alone works too):

``POST /shipper/<anything>``
    Shipper PGI / order-confirmation webhook (vendor-notes 1.6). Any JSON body; no auth.
    Replies 200 ``{"metadata": {"path", "http_status_code": 200, "http_status": "OK", "timestamp"}}``.
    Dedupe key: ``doc_no#delivery_no`` for a PGI (a body with ``details`` or ``pgi_date``), else
    the confirmation's ``doc_no`` (or ``order_no``).
``POST /increff/<anything>``
    Increff Sales Order Posting (2.2-2.3). Auth modes: ``none``; ``static`` (every configured
    header must be present with its value); ``dynamic`` (the headers issued by ``GET
    /increff/credential`` must be present and not expired). Missing or wrong -> 401
    ``{"hasError": true, ...}``. Replies 200 ``{"hasError": false, "errorMessage": ""}``.
    Dedupe key: ``messageId``.
``GET /increff/credential``
    Increff's Get Credential call: a fresh flat header map ``{"x-increff-token": <random>,
    "x-increff-client": <client id>}``, valid ``credential_ttl_s``; every call is counted.
``POST /unicommerce/v1/auth/Token``
    Unicommerce POS token (3.2): headers ``username``, ``password``, ``grant_type: password``.
    200 ``{"access_token", "status": "SUCCESS", "expires_in"}``; wrong credentials -> 401
    ``{"status": "FAILED", "errorMessage": "Bad credentials"}`` (the HTTP status of a FAILED
    reply is not documented; 401 is this receiver's choice).
``POST /unicommerce/v1/shipment/<code>``
    Post Sale Order Dispatch (3.3): needs ``Authorization: bearer <token>`` with a token from the
    route above that has not expired (else 401). Replies 200 ``{"successful": true, "message",
    "errors": [], "warnings": []}``. Dedupe key: ``<code>``.
``POST /standard/<anything>``
    Standard Webhooks: checks ``webhook-id``/``webhook-timestamp``/``webhook-signature`` against
    the configured ``whsec_`` secret (5 minute tolerance) and records the result in ``verified``.
    Replies 204, also when the signature is wrong unless ``require_signature`` is on (then 401).
    Dedupe key: ``webhook-id``.

Every request under a format prefix is recorded (``Received``): seq, format, kind (``event``,
``token``, ``credential`` or ``unknown``), method, path, lower-cased headers, raw body text, parsed
JSON, dedupe key, verified (True/False, None when there is nothing to verify), status answered,
outcome (``accepted``, ``duplicate``, ``rejected`` = 4xx for auth/input, ``failed`` = a simulated
failure, ``issued`` = token/credential handed out), reason and time. An event is ``accepted`` the
first time its dedupe key is answered with success and a ``duplicate`` after that (an event
without a key is always accepted). At most ``max_records`` records are kept; counters are not capped.

Failure modes (per format; see ``configure``):
    ``down``          every route of the format answers 503 (token and credential routes too);
    ``fail_next: N``  the next N events answer 500;
    ``status: code``  every event answers ``code`` (300-599) until set back to null;
    ``delay_ms: N``   every event is answered after N ms (requests are served concurrently);
    ``increff_has_error``        increff events answer 200 ``{"hasError": true, "errorMessage"}``;
    ``unicommerce_unsuccessful`` unicommerce shipments answer 200 ``{"successful": false, "errors": [...]}``.
Order for an event: delay, down, fail_next, status, auth/signature, body is JSON, business error, success.
Failures answer in the format's own error shape (Shipper ``metadata.errors``, Increff ``hasError``,
Unicommerce ``successful: false`` / ``status: FAILED``, standard ``{"error"}``) with ``error_message``.

Control API (JSON, no auth):
    ``GET  /_demo/health``                          ``{"ok": true}``
    ``GET  /_demo/received?format=&kind=&outcome=&since=<seq>``  ``{"received": [...], "last_seq"}``
    ``GET  /_demo/stats``                           counters per format and ``last_seq``
    ``GET  /_demo/config``                          settings per format
    ``POST /_demo/config``   ``{"<format>": {setting: value, ...}, ...}``: partial update, all or nothing
    ``POST /_demo/expire-tokens``                   expire every Unicommerce token and Increff credential
    ``POST /_demo/reset``                           records, counters, tokens and settings as constructed
    ``GET  /_demo/endpoints``                       ``endpoint_urls()`` plus the Increff credential URL

Settings per format: all take ``down``, ``fail_next``, ``status``, ``delay_ms``, ``error_message``;
increff also ``increff_has_error``, ``auth_mode`` (none/static/dynamic), ``static_headers``,
``credential_ttl_s``, ``client_id``; unicommerce also ``unicommerce_unsuccessful``, ``username``,
``password``, ``token_ttl_s``; standard also ``secret`` (``whsec_...``), ``require_signature``.

Everything HTTP goes through ``DemoReceiver.handle`` (no socket needed); ``start()`` serves it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from local_stack.loopback_http import LoopbackHandler, LoopbackServer, LoopbackService

try:
    from standardwebhooks import Webhook as _Webhook
except ImportError:  # pragma: no cover - a dev dependency; the HMAC fallback below is equivalent
    _Webhook = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
FORMATS: tuple[str, ...] = ("shipper", "increff", "unicommerce", "standard")
KINDS: tuple[str, ...] = ("event", "token", "credential", "unknown")
OUTCOMES: tuple[str, ...] = ("accepted", "duplicate", "rejected", "failed", "issued")

DEFAULT_STANDARD_SECRET = "whsec_" + base64.b64encode(b"demo-receiver-standard-webhooks").decode()
DEFAULT_UNICOMMERCE_USERNAME = "demo-pos"
DEFAULT_UNICOMMERCE_PASSWORD = "demo-pos-password"
DEFAULT_INCREFF_CLIENT_ID = "demo-client"
DEFAULT_TOKEN_TTL_S = 3600.0
DEFAULT_MAX_RECORDS = 10_000
INCREFF_TOKEN_HEADER = "x-increff-token"
INCREFF_CLIENT_HEADER = "x-increff-client"
STANDARD_TOLERANCE_S = 300
MAX_DELAY_MS = 600_000
DEFAULT_ERROR_MESSAGE = "simulated failure"

Kind = Literal["event", "token", "credential", "unknown"]
Outcome = Literal["accepted", "duplicate", "rejected", "failed", "issued"]


class DemoReceiverError(ValueError):
    """A refused control request or setting; ``status`` is what the control API answers."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class DemoResponse:
    """What ``DemoReceiver.handle`` answers; ``no_reply`` means close the connection without answering."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    no_reply: bool = False

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Received:
    """One recorded request (``asdict`` of it is what ``/_demo/received`` lists)."""

    seq: int
    format: str
    kind: Kind
    method: str
    path: str
    headers: dict[str, str]
    body: str
    json: Any
    dedupe_key: str | None
    verified: bool | None
    status: int
    outcome: Outcome
    reason: str
    at: str  # ISO 8601 UTC with milliseconds
    received_at: float  # epoch seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

_COMMON_KEYS = frozenset({"down", "fail_next", "status", "delay_ms", "error_message"})
_FORMAT_KEYS: dict[str, frozenset[str]] = {
    "shipper": _COMMON_KEYS,
    "increff": _COMMON_KEYS | {"increff_has_error", "auth_mode", "static_headers", "credential_ttl_s", "client_id"},
    "unicommerce": _COMMON_KEYS | {"unicommerce_unsuccessful", "username", "password", "token_ttl_s"},
    "standard": _COMMON_KEYS | {"secret", "require_signature"},
}
AUTH_MODES = ("none", "static", "dynamic")


@dataclass
class _Settings:
    """One format's settings; only the keys of ``_FORMAT_KEYS[format]`` matter for it."""

    down: bool = False
    fail_next: int = 0
    status: int | None = None
    delay_ms: int = 0
    error_message: str = DEFAULT_ERROR_MESSAGE
    # increff
    increff_has_error: bool = False
    auth_mode: str = "none"
    static_headers: dict[str, str] = field(default_factory=dict)
    credential_ttl_s: float = DEFAULT_TOKEN_TTL_S
    client_id: str = DEFAULT_INCREFF_CLIENT_ID
    # unicommerce
    unicommerce_unsuccessful: bool = False
    username: str = DEFAULT_UNICOMMERCE_USERNAME
    password: str = DEFAULT_UNICOMMERCE_PASSWORD
    token_ttl_s: float = DEFAULT_TOKEN_TTL_S
    # standard
    secret: str = DEFAULT_STANDARD_SECRET
    require_signature: bool = False

    def view(self, fmt: str) -> dict[str, Any]:
        values = asdict(self)
        return {key: values[key] for key in sorted(_FORMAT_KEYS[fmt])}

    def copy(self) -> _Settings:
        return replace(self, static_headers=dict(self.static_headers))


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise DemoReceiverError(f"{name} must be a boolean", name)
    return value


def _int(value: Any, name: str, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise DemoReceiverError(f"{name} must be an integer between {minimum} and {maximum}", name)
    return value


def _seconds(value: Any, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise DemoReceiverError(f"{name} must be a positive number of seconds", name)
    return float(value)


def _string(value: Any, name: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise DemoReceiverError(f"{name} must be a{'' if allow_empty else ' non-empty'} string", name)
    return value


def secret_key(secret: str, name: str = "secret") -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64-decoded part after ``whsec_``."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "==")  # like the reference library: tolerate missing padding
    except (binascii.Error, ValueError):
        raise DemoReceiverError(f"{name} must be whsec_ followed by base64", name) from None
    if not key:
        raise DemoReceiverError(f"{name} must not be empty", name)
    return key


def _apply(fmt: str, current: _Settings, changes: Mapping[str, Any]) -> _Settings:
    """A validated copy of ``current`` with ``changes`` applied (``current`` is left alone)."""
    if not isinstance(changes, Mapping):
        raise DemoReceiverError(f"{fmt}: settings must be an object", fmt)
    unknown = sorted(set(changes) - _FORMAT_KEYS[fmt])
    if unknown:
        raise DemoReceiverError(f"{fmt}: unknown setting(s): {', '.join(unknown)}", f"{fmt}.{unknown[0]}")
    new = current.copy()
    for key, value in changes.items():
        name = f"{fmt}.{key}"
        match key:
            case "down" | "increff_has_error" | "unicommerce_unsuccessful" | "require_signature":
                setattr(new, key, _bool(value, name))
            case "fail_next":
                new.fail_next = _int(value, name, 0, 1_000_000)
            case "status":
                new.status = None if value is None else _int(value, name, 300, 599)
            case "delay_ms":
                new.delay_ms = _int(value, name, 0, MAX_DELAY_MS)
            case "error_message":
                new.error_message = _string(value, name)
            case "auth_mode":
                if value not in AUTH_MODES:
                    raise DemoReceiverError(f"{name} must be one of {', '.join(AUTH_MODES)}", name)
                new.auth_mode = value
            case "static_headers":
                if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
                ):
                    raise DemoReceiverError(f"{name} must be an object of header name -> string value", name)
                new.static_headers = {k.lower(): v for k, v in value.items()}
            case "credential_ttl_s" | "token_ttl_s":
                setattr(new, key, _seconds(value, name))
            case "client_id" | "username":
                setattr(new, key, _string(value, name))
            case "password":
                new.password = _string(value, name, allow_empty=True)
            case "secret":
                secret_key(_string(value, name), name)
                new.secret = value
    if fmt == "increff" and new.auth_mode == "static" and not new.static_headers:
        raise DemoReceiverError("increff: auth_mode static needs static_headers", "increff.static_headers")
    return new


# --------------------------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------------------------


@dataclass
class _Counters:
    requests: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    credential_calls: int = 0  # increff
    token_calls: int = 0  # unicommerce
    tokens_issued: int = 0  # unicommerce

    def view(self, fmt: str, unique_keys: int) -> dict[str, Any]:
        values = asdict(self)
        if fmt != "increff":
            values.pop("credential_calls")
        if fmt != "unicommerce":
            values.pop("token_calls")
            values.pop("tokens_issued")
        values["unique_keys"] = unique_keys
        return values


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> tuple[bool, str]:
    """(verified, reason) for a Standard Webhooks request; uses ``standardwebhooks`` when importable."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if not (lowered.get("webhook-id") and lowered.get("webhook-timestamp") and lowered.get("webhook-signature")):
        return False, "missing webhook-id, webhook-timestamp or webhook-signature"
    if _Webhook is not None and now is None:
        try:
            _Webhook(secret).verify(body, lowered, json_parse=False)
        except Exception as error:  # WebhookVerificationError, and malformed headers or bodies
            return False, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return True, ""
    return _verify_hmac(secret_key(secret), lowered, body, time.time() if now is None else now)


def _verify_hmac(key: bytes, headers: Mapping[str, str], body: bytes, now: float) -> tuple[bool, str]:
    """The Standard Webhooks check without the library (same rules: v1 signatures, 5 minute window)."""
    try:
        timestamp = math.floor(float(headers["webhook-timestamp"]))
    except (ValueError, OverflowError):
        return False, "invalid webhook-timestamp"
    if abs(now - timestamp) > STANDARD_TOLERANCE_S:
        return False, "webhook-timestamp outside the tolerance window"
    signed = f"{headers['webhook-id']}.{timestamp}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return True, ""
    return False, "no matching signature"


def _shipper_key(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    doc_no = payload.get("doc_no") or payload.get("order_no")
    if not doc_no:
        return None
    if "details" in payload or "pgi_date" in payload:  # a PGI: one per delivery
        return f"{doc_no}#{payload.get('delivery_no') or ''}"
    return str(doc_no)


def _increff_key(payload: Any) -> str | None:
    message_id = payload.get("messageId") if isinstance(payload, dict) else None
    return None if message_id is None or message_id == "" else str(message_id)


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------


class _ReceiverServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], receiver: DemoReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _ReceiverRequestHandler, thread_name="demo-receiver-conn")


class _ReceiverRequestHandler(LoopbackHandler):
    server_version = "demo-receiver"
    server: _ReceiverServer

    def _handle(self) -> None:
        body = self.read_body()
        if body is None:
            response = DemoResponse(413, _dumps({"error": "request body too large"}))
            self.close_connection = True
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = self.server.receiver.handle(self.command, self.path, headers, body)
        if response.no_reply:
            self.close_connection = True
            return
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        if response.status != 204:  # a 204 carries neither a body nor Content-Length
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status != 204:
            self.wfile.write(response.body)
        log.info("%s %s -> %d", self.command, self.path, response.status)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


@dataclass
class _Draft:
    """A request being answered: filled in by the route, then recorded."""

    fmt: str
    kind: Kind
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any = None
    dedupe_key: str | None = None
    verified: bool | None = None
    reason: str = ""


# --------------------------------------------------------------------------------------------
# The receiver
# --------------------------------------------------------------------------------------------


class DemoReceiver(LoopbackService):
    """The client side of the four callback formats on 127.0.0.1. Nothing binds before ``start()``."""

    service_name = "demo receiver"
    thread_name = "demo-receiver-http"

    def __init__(
        self,
        port: int = 0,
        *,
        standard_secret: str = DEFAULT_STANDARD_SECRET,
        unicommerce_username: str = DEFAULT_UNICOMMERCE_USERNAME,
        unicommerce_password: str = DEFAULT_UNICOMMERCE_PASSWORD,
        unicommerce_token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        increff_auth_mode: str = "none",
        increff_static_headers: Mapping[str, str] | None = None,
        increff_credential_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        max_records: int = DEFAULT_MAX_RECORDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock`` (monotonic seconds) decides token and credential expiry; tests may replace it."""
        super().__init__(port)
        self._clock = clock or time.monotonic
        defaults = {fmt: _Settings() for fmt in FORMATS}
        defaults["standard"] = _apply("standard", defaults["standard"], {"secret": standard_secret})
        defaults["unicommerce"] = _apply(
            "unicommerce",
            defaults["unicommerce"],
            {"username": unicommerce_username, "password": unicommerce_password, "token_ttl_s": unicommerce_token_ttl_s},
        )
        increff: dict[str, Any] = {"auth_mode": increff_auth_mode, "credential_ttl_s": increff_credential_ttl_s}
        if increff_static_headers is not None:
            increff["static_headers"] = dict(increff_static_headers)
        defaults["increff"] = _apply("increff", defaults["increff"], increff)
        self._defaults = defaults
        self._max_records = _int(max_records, "max_records", 1, 10_000_000)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._settings: dict[str, _Settings] = {}
        self._records: deque[Received] = deque(maxlen=self._max_records)
        self._counters: dict[str, _Counters] = {}
        self._seen: dict[str, set[str]] = {}
        self._uc_tokens: dict[str, float] = {}  # token -> expiry (clock)
        self._increff_credentials: dict[str, float] = {}  # token -> expiry (clock)
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._reset_locked()

    # ---- lifecycle ----------------------------------------------------------------------------

    def _new_server(self, address: tuple[str, int]) -> LoopbackServer:
        return _ReceiverServer(address, self)

    def start(self) -> None:
        if self._server is None:
            super().start()
            log.info("demo receiver on %s", self.url)

    def __enter__(self) -> DemoReceiver:
        self.start()
        return self

    def endpoint_urls(self) -> dict[str, str]:
        """The URL to register for each format (Unicommerce: the POS base URL)."""
        base = self.url
        return {
            "shipper": f"{base}/shipper/callback",
            "increff": f"{base}/increff/callback",
            "unicommerce": f"{base}/unicommerce",
            "standard": f"{base}/standard/callback",
        }

    @property
    def increff_credential_url(self) -> str:
        """Increff's Get Credential URL (dynamic auth mode)."""
        return f"{self.url}/increff/credential"

    # ---- settings ----------------------------------------------------------------------------

    def configure(self, format: str, **settings: Any) -> dict[str, Any]:
        """Change one format's settings (see the module docstring); returns that format's settings.

        E.g. ``configure("increff", auth_mode="dynamic")``, ``configure("shipper", fail_next=2)``,
        ``configure("unicommerce", username="u", password="p", token_ttl_s=60)``, ``configure("standard", down=True)``.
        """
        return self.update_config({format: settings})[format]

    def update_config(self, changes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """``{format: {setting: value}}`` for several formats at once: all applied, or none (raises)."""
        if not isinstance(changes, Mapping):
            raise DemoReceiverError("the config must be an object {format: {setting: value}}")
        unknown = sorted(set(changes) - set(FORMATS))
        if unknown:
            raise DemoReceiverError(f"unknown format(s): {', '.join(map(str, unknown))}", str(unknown[0]))
        with self._lock:
            updated = {fmt: _apply(fmt, self._settings[fmt], values) for fmt, values in changes.items()}
            self._settings.update(updated)
            return self._config_locked()

    def config(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._config_locked()

    def clear_failures(self, format: str | None = None) -> None:
        """Back to answering normally (auth settings stay)."""
        formats = FORMATS if format is None else (self._format(format),)
        self.update_config(
            {
                fmt: {"down": False, "fail_next": 0, "status": None, "delay_ms": 0}
                | ({"increff_has_error": False} if fmt == "increff" else {})
                | ({"unicommerce_unsuccessful": False} if fmt == "unicommerce" else {})
                for fmt in formats
            }
        )

    def expire_tokens(self) -> dict[str, int]:
        """Expire every Unicommerce token and Increff credential issued so far; how many of each."""
        with self._lock:
            now = self._clock()
            counts = {"unicommerce": 0, "increff": 0}
            for name, tokens in (("unicommerce", self._uc_tokens), ("increff", self._increff_credentials)):
                for token, expiry in tokens.items():
                    if expiry > now:
                        tokens[token] = now
                        counts[name] += 1
            return counts

    def reset(self) -> None:
        """Forget records, counters, dedupe keys, tokens and credentials; settings back to the constructor's."""
        with self._lock:
            self._reset_locked()
            self._changed.notify_all()

    def _reset_locked(self) -> None:
        self._settings = {fmt: settings.copy() for fmt, settings in self._defaults.items()}
        self._records.clear()
        self._counters = {fmt: _Counters() for fmt in FORMATS}
        self._seen = {fmt: set() for fmt in FORMATS}
        self._uc_tokens.clear()
        self._increff_credentials.clear()
        self._seq = itertools.count(self._last_seq + 1)  # seq never goes back: `since` stays meaningful

    def _config_locked(self) -> dict[str, dict[str, Any]]:
        return {fmt: self._settings[fmt].view(fmt) for fmt in FORMATS}

    @staticmethod
    def _format(value: str) -> str:
        if value not in FORMATS:
            raise DemoReceiverError(f"unknown format {value!r}; one of {', '.join(FORMATS)}", "format")
        return value

    # ---- what was received ----------------------------------------------------------------------

    def received(
        self,
        format: str | None = None,
        since: int = 0,
        kind: str | None = None,
        outcome: str | None = None,
    ) -> list[Received]:
        """Recorded requests with ``seq > since``, oldest first, optionally of one format/kind/outcome."""
        if format is not None:
            self._format(format)
        if kind is not None and kind not in KINDS:
            raise DemoReceiverError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", "kind")
        if outcome is not None and outcome not in OUTCOMES:
            raise DemoReceiverError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}", "outcome")
        with self._lock:
            return [
                record
                for record in self._records
                if record.seq > since
                and (format is None or record.format == format)
                and (kind is None or record.kind == kind)
                and (outcome is None or record.outcome == outcome)
            ]

    def events(self, format: str | None = None, since: int = 0) -> list[Received]:
        """Recorded callbacks (not token or credential calls)."""
        return self.received(format, since, kind="event")

    def accepted_keys(self, format: str) -> list[str]:
        """The dedupe keys accepted so far, sorted."""
        with self._lock:
            return sorted(self._seen[self._format(format)])

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "last_seq": self._last_seq,
                "records_kept": len(self._records),
                "formats": {fmt: self._counters[fmt].view(fmt, len(self._seen[fmt])) for fmt in FORMATS},
            }

    def wait_for(
        self, predicate: Callable[[Received], bool] | None = None, timeout: float = 10.0, count: int = 1
    ) -> list[Received]:
        """Wait until at least ``count`` recorded requests match ``predicate`` (None: any); those records.

        Raises ``TimeoutError`` (listing what was received) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [record for record in self._records if predicate is None or predicate(record)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(r.seq, r.format, r.kind, r.path, r.status, r.outcome) for r in self._records]
                    raise TimeoutError(f"{len(matching)} of {count} matching requests after {timeout} s; received: {seen}")
                self._changed.wait(remaining)

    # ---- HTTP entry point --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> DemoResponse:
        """Answer one HTTP request (header names in any case). No socket involved."""
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path) or "/"
        method = method.upper()
        lowered = {name.lower(): value for name, value in headers.items()}
        segments = [segment for segment in path.split("/") if segment]
        try:
            if segments[:1] == ["_demo"]:
                return self._control(method, segments[1:], query, body)
            if not segments or segments[0] not in FORMATS:
                return DemoResponse(404, _dumps({"error": f"no route for {method} {path}"}))
            draft = _Draft(segments[0], "event", method, path, lowered, body)
            return self._serve(draft, segments[1:])
        except DemoReceiverError as error:
            return DemoResponse(error.status, _dumps({"error": error.message, "field": error.field}))
        except Exception:
            log.exception("demo receiver failed on %s %s", method, target)
            return DemoResponse(500, _dumps({"error": "internal error"}))

    def _serve(self, draft: _Draft, rest: list[str]) -> DemoResponse:
        fmt, method = draft.fmt, draft.method
        if fmt == "increff" and rest == ["credential"] and method == "GET":
            draft.kind = "credential"
        elif fmt == "unicommerce":
            lowered = [segment.lower() for segment in rest]
            if lowered == ["v1", "auth", "token"]:
                draft.kind = "token"
            elif len(rest) == 3 and lowered[:2] == ["v1", "shipment"]:
                draft.dedupe_key = rest[2]
            else:
                draft.kind = "unknown"
        with self._lock:
            settings = self._settings[fmt].copy()
        if draft.kind == "event" and settings.delay_ms and self._stopping.wait(settings.delay_ms / 1000):
            return DemoResponse(0, no_reply=True)  # shutting down
        if settings.down:
            return self._finish(draft, 503, "failed", f"{settings.error_message} (down)")
        if draft.kind == "unknown":
            return self._finish(draft, 404, "rejected", f"no route for {method} {draft.path}")
        if draft.kind == "credential":
            return self._issue_credential(draft, settings)
        if method != "POST":
            return self._finish(draft, 405, "rejected", f"{method} not allowed; POST here")
        if draft.kind == "token":
            return self._issue_token(draft, settings)
        return self._event(draft)

    # ---- events --------------------------------------------------------------------------------

    def _event(self, draft: _Draft) -> DemoResponse:
        fmt = draft.fmt
        with self._lock:  # failure modes are decided (and fail_next consumed) atomically
            settings = self._settings[fmt]
            message = settings.error_message
            if settings.down:
                return self._finish(draft, 503, "failed", f"{message} (down)")
            if settings.fail_next > 0:
                settings.fail_next -= 1
                return self._finish(draft, 500, "failed", f"{message} (fail_next, {settings.fail_next} left)")
            if settings.status is not None:
                return self._finish(draft, settings.status, "failed", f"{message} (status {settings.status})")
            settings = settings.copy()
        refusal = self._authenticate(draft, settings)
        if refusal is not None:
            return refusal
        try:
            draft.payload = json.loads(draft.body) if draft.body else None
        except (ValueError, UnicodeDecodeError):
            return self._finish(draft, 400, "rejected", "the body is not valid JSON")
        if draft.payload is None:
            return self._finish(draft, 400, "rejected", "the body is empty")
        if fmt == "shipper":
            draft.dedupe_key = _shipper_key(draft.payload)
        elif fmt == "increff":
            draft.dedupe_key = _increff_key(draft.payload)
            if settings.increff_has_error:
                return self._finish(draft, 200, "failed", settings.error_message)
        elif fmt == "unicommerce":
            if settings.unicommerce_unsuccessful:
                return self._finish(draft, 200, "failed", settings.error_message)
        else:
            draft.dedupe_key = draft.headers.get("webhook-id") or None
        return self._finish(draft, 204 if fmt == "standard" else 200, "accepted", "")

    def _authenticate(self, draft: _Draft, settings: _Settings) -> DemoResponse | None:
        """None when the event may pass; otherwise the recorded refusal."""
        if draft.fmt == "increff":
            if settings.auth_mode == "static":
                wrong = sorted(
                    name
                    for name, value in settings.static_headers.items()
                    if not hmac.compare_digest(draft.headers.get(name, "").encode(), value.encode())
                )
                draft.verified = not wrong
                if wrong:
                    return self._finish(draft, 401, "rejected", f"missing or wrong header(s): {', '.join(wrong)}")
            elif settings.auth_mode == "dynamic":
                token = draft.headers.get(INCREFF_TOKEN_HEADER, "")
                with self._lock:
                    expiry = self._increff_credentials.get(token)
                    expired = expiry is not None and expiry <= self._clock()
                client_ok = draft.headers.get(INCREFF_CLIENT_HEADER) == settings.client_id
                draft.verified = expiry is not None and not expired and client_ok
                if not draft.verified:
                    reason = (
                        "credential expired"
                        if expired
                        else "no credential headers"
                        if not token
                        else "unknown credential"
                        if expiry is None
                        else f"wrong {INCREFF_CLIENT_HEADER}"
                    )
                    return self._finish(draft, 401, "rejected", reason)
        elif draft.fmt == "unicommerce":
            scheme, _, token = draft.headers.get("authorization", "").strip().partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            with self._lock:
                expiry = self._uc_tokens.get(token) if token else None
                expired = expiry is not None and expiry <= self._clock()
            draft.verified = expiry is not None and not expired
            if not draft.verified:
                reason = "token expired" if expired else "missing bearer token" if not token else "unknown token"
                return self._finish(draft, 401, "rejected", reason)
        elif draft.fmt == "standard":
            draft.verified, reason = verify_standard(settings.secret, draft.headers, draft.body)
            draft.reason = reason
            if not draft.verified and settings.require_signature:
                return self._finish(draft, 401, "rejected", f"signature: {reason}")
        return None

    # ---- tokens and credentials ---------------------------------------------------------------------

    def _issue_token(self, draft: _Draft, settings: _Settings) -> DemoResponse:
        headers = draft.headers
        with self._lock:
            self._counters["unicommerce"].token_calls += 1
        if headers.get("grant_type") != "password":
            draft.verified = False
            return self._finish(draft, 401, "rejected", "grant_type must be password")
        draft.verified = hmac.compare_digest(headers.get("username", "").encode(), settings.username.encode()) and (
            hmac.compare_digest(headers.get("password", "").encode(), settings.password.encode())
        )
        if not draft.verified:
            return self._finish(draft, 401, "rejected", "Bad credentials")
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._prune(self._uc_tokens, now)
            self._uc_tokens[token] = now + settings.token_ttl_s
            self._counters["unicommerce"].tokens_issued += 1
        ttl = settings.token_ttl_s
        reply = {"access_token": token, "status": "SUCCESS", "expires_in": int(ttl) if ttl == int(ttl) else ttl}
        return self._finish(draft, 200, "issued", "", reply)

    def _issue_credential(self, draft: _Draft, settings: _Settings) -> DemoResponse:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._prune(self._increff_credentials, now)
            self._increff_credentials[token] = now + settings.credential_ttl_s
            self._counters["increff"].credential_calls += 1
        return self._finish(draft, 200, "issued", "", {INCREFF_TOKEN_HEADER: token, INCREFF_CLIENT_HEADER: settings.client_id})

    @staticmethod
    def _prune(tokens: dict[str, float], now: float) -> None:
        """Forget tokens expired more than 5 minutes ago (older ones answer "unknown" instead of "expired")."""
        if len(tokens) > 1000:
            for token in [token for token, expiry in tokens.items() if expiry < now - 300]:
                del tokens[token]

    # ---- replies ------------------------------------------------------------------------------------

    def _finish(
        self, draft: _Draft, status: int, outcome: Outcome, reason: str, reply: dict[str, Any] | None = None
    ) -> DemoResponse:
        """Record the request (dedupe and counters included) and build the format's reply."""
        reason = reason or draft.reason
        with self._lock:
            counters = self._counters[draft.fmt]
            if outcome == "accepted" and draft.dedupe_key is not None:
                seen = self._seen[draft.fmt]
                if draft.dedupe_key in seen:
                    outcome = "duplicate"
                else:
                    seen.add(draft.dedupe_key)
            counters.requests += 1
            counters.statuses[str(status)] = counters.statuses.get(str(status), 0) + 1
            if draft.kind == "event":
                counters.events += 1
            if outcome == "accepted":
                counters.accepted += 1
            elif outcome == "duplicate":
                counters.duplicates += 1
            elif outcome == "rejected":
                counters.rejected += 1
            elif outcome == "failed":
                counters.failed += 1
            received_at = time.time()
            seq = next(self._seq)
            self._last_seq = seq
            self._records.append(
                Received(
                    seq=seq,
                    format=draft.fmt,
                    kind=draft.kind,
                    method=draft.method,
                    path=draft.path,
                    headers=dict(draft.headers),
                    body=draft.body.decode("utf-8", errors="replace"),
                    json=draft.payload,
                    dedupe_key=draft.dedupe_key,
                    verified=draft.verified,
                    status=status,
                    outcome=outcome,
                    reason=reason,
                    at=_iso_ms(received_at),
                    received_at=received_at,
                )
            )
            self._changed.notify_all()
        if reply is not None:
            return DemoResponse(status, _dumps(reply))
        return self._reply(draft, status, outcome, reason)

    def _reply(self, draft: _Draft, status: int, outcome: Outcome, reason: str) -> DemoResponse:
        ok = outcome in ("accepted", "duplicate")
        message = "duplicate, already processed" if outcome == "duplicate" else reason
        if draft.fmt == "shipper":
            metadata: dict[str, Any] = {
                "path": draft.path,
                "http_status_code": status,
                "http_status": _phrase(status),
                "timestamp": int(time.time()),
            }
            if not ok:
                metadata["errors"] = [{"code": 803 if status >= 500 else 810, "message": reason}]
            return DemoResponse(status, _dumps({"metadata": metadata}))
        if draft.fmt == "increff":
            return DemoResponse(status, _dumps({"hasError": not ok, "errorMessage": "" if ok else reason}))
        if draft.fmt == "unicommerce":
            if draft.kind == "token":
                return DemoResponse(status, _dumps({"status": "FAILED", "errorMessage": reason}))
            if ok:
                text = message or f"shipment {draft.dedupe_key} dispatch recorded"
                return DemoResponse(status, _dumps({"successful": True, "message": text, "errors": [], "warnings": []}))
            error = {"code": "DEMO_FAILURE", "fieldName": "", "description": reason, "message": reason, "errorParams": {}}
            return DemoResponse(status, _dumps({"successful": False, "message": reason, "errors": [error], "warnings": []}))
        if ok:
            return DemoResponse(204, content_type=None)
        return DemoResponse(status, _dumps({"error": reason}))

    # ---- control API ----------------------------------------------------------------------------------

    def _control(self, method: str, segments: list[str], query: str, body: bytes) -> DemoResponse:
        params = dict(parse_qsl(query, keep_blank_values=True))
        match method, segments:
            case "GET", ["health"]:
                return _ok({"ok": True})
            case "GET", ["received"]:
                since = params.get("since") or "0"
                if not since.isdigit():
                    raise DemoReceiverError("since must be a sequence number (an integer >= 0)", "since")
                records = self.received(
                    params.get("format") or None, int(since), params.get("kind") or None, params.get("outcome") or None
                )
                return _ok({"received": [record.to_json() for record in records], "last_seq": self.last_seq})
            case "GET", ["stats"]:
                return _ok(self.stats())
            case "GET", ["config"]:
                return _ok(self.config())
            case "POST", ["config"]:
                try:
                    payload = json.loads(body or b"{}")
                except (ValueError, UnicodeDecodeError):
                    raise DemoReceiverError("the body is not valid JSON") from None
                return _ok(self.update_config(payload))
            case "POST", ["expire-tokens"]:
                return _ok({"expired": self.expire_tokens()})
            case "POST", ["reset"]:
                self.reset()
                return _ok({"reset": True})
            case "GET", ["endpoints"]:
                return _ok({"endpoints": self.endpoint_urls(), "increff_credential_url": self.increff_credential_url})
        raise DemoReceiverError(f"no control route for {method} /_demo/{'/'.join(segments)}", status=404)


def _ok(payload: Any) -> DemoResponse:
    return DemoResponse(200, _dumps(payload))
