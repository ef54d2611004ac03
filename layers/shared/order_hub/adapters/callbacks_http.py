"""Sends rendered callbacks over HTTP with each endpoint's auth.

- One pooled ``requests.Session`` per container, mounted with the SSRF-guarded adapter
  (``net_guard``); proxies from the environment are ignored and redirects are never followed.
- ``headers``: static headers from the endpoint's secret.
- ``increff_credential``: static headers, plus headers from the receiver's Get Credential URL
  (``GET``, flat JSON map), fetched when the receiver answers 401, cached, and the request sent once more.
- ``unicommerce_token``: ``POST {base}/v1/auth/Token`` with username/password headers; the token is
  cached until ``expires_in`` (30 s early) and fetched again once on a 401.
- ``standard_webhooks``: ``webhook-id`` (the delivery id), ``webhook-timestamp``, ``webhook-signature``.
One sender serves every tenant of a container and endpoint ids are unique per tenant only, so cached
tokens and credentials are keyed by tenant, endpoint and a fingerprint of what produced them (URL,
credential URL, the secret's username/password): a change or a rotation fetches anew.
Response bodies are read up to 64 KiB; the delivery log keeps the first 1 KiB.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from order_hub import __version__
from order_hub.adapters.net_guard import GUARD_MARK as _GUARD_MARK
from order_hub.adapters.net_guard import UrlPolicy, guarded_adapter
from order_hub.adapters.secrets import read_secret
from order_hub.models.endpoints import Endpoint
from order_hub.ports import Rendered, SendResult

if TYPE_CHECKING:
    import requests

READ_LIMIT = 64 * 1024
USER_AGENT = f"outbound-order-hub/{__version__}"
TOKEN_EARLY_EXPIRY = 30


class _AuthFailed(Exception):
    pass


class HttpCallbackSender:
    def __init__(
        self,
        policy: UrlPolicy,
        timeout_cap: float = 45.0,
        secrets: Callable[[str], dict[str, Any] | None] = read_secret,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._timeout_cap = timeout_cap
        self._secrets = secrets
        self._clock = clock
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._credentials: dict[tuple[str, str, str], dict[str, str]] = {}
        self.token_fetches = 0
        self.credential_fetches = 0

    @property
    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                session = requests.Session()
                session.trust_env = False  # no proxies from the environment: the guard must see the real peer
                adapter = guarded_adapter(self._policy, pool_connections=20, pool_maxsize=50, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session

    # -- one request -------------------------------------------------------------------------
    def _timeouts(self, endpoint: Endpoint) -> tuple[float, float]:
        read = min(endpoint.timeout_seconds, self._timeout_cap)
        return (min(5.0, read), read)

    def _request(self, method: str, url: str, endpoint: Endpoint, headers: dict[str, str], body: bytes | None) -> SendResult:
        import requests

        started = time.perf_counter()
        try:
            response = self.session.request(
                method, url, data=body, headers=headers, timeout=self._timeouts(endpoint), allow_redirects=False, stream=True
            )
            try:
                raw = response.raw.read(READ_LIMIT, decode_content=True) or b""
            finally:
                response.close()
        except requests.exceptions.ConnectionError as error:
            latency = int((time.perf_counter() - started) * 1000)
            text = str(error)
            if _GUARD_MARK in text:
                reason = text.split(_GUARD_MARK, 1)[1].strip(" :")
                return SendResult(latency_ms=latency, error=f"refused: {reason.split(chr(39) + ')', 1)[0][:300]}", refused=True)
            return SendResult(latency_ms=latency, error=f"connection failed: {_short(error)}")
        except requests.exceptions.Timeout:
            return SendResult(
                latency_ms=int((time.perf_counter() - started) * 1000), error=f"timed out after {self._timeouts(endpoint)[1]:g} s"
            )
        except requests.exceptions.RequestException as error:
            latency = int((time.perf_counter() - started) * 1000)
            return SendResult(latency_ms=latency, error=f"request failed: {_short(error)}")
        latency = int((time.perf_counter() - started) * 1000)
        text = raw.decode("utf-8", errors="replace")
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            return SendResult(
                status_code=response.status_code,
                body=text,
                latency_ms=latency,
                error=f"redirect to '{location[:200]}' not followed",
            )
        return SendResult(status_code=response.status_code, body=text, latency_ms=latency)

    # -- per auth kind ----------------------------------------------------------------------
    def send(self, endpoint: Endpoint, rendered: Rendered, delivery_id: str) -> SendResult:
        body = json.dumps(rendered.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        url = endpoint.url.rstrip("/") + rendered.path if rendered.path else endpoint.url
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, **rendered.headers}
        secret = (self._secrets(endpoint.secret_name) if endpoint.secret_name else None) or {}
        headers.update({str(k): str(v) for k, v in dict(secret.get("headers") or {}).items()})
        try:
            if endpoint.auth == "standard_webhooks":
                return self._send_signed(endpoint, url, headers, body, delivery_id, secret)
            if endpoint.auth == "unicommerce_token":
                return self._send_with_token(endpoint, url, headers, body, secret)
            if endpoint.auth == "increff_credential":
                return self._send_with_credential(endpoint, url, headers, body)
        except _AuthFailed as error:
            return SendResult(error=str(error))
        return self._request("POST", url, endpoint, headers, body)

    def _send_signed(
        self, endpoint: Endpoint, url: str, headers: dict[str, str], body: bytes, delivery_id: str, secret: dict[str, Any]
    ) -> SendResult:
        from order_hub.standard_webhooks import sign

        key = secret.get("secret")
        if not isinstance(key, str) or not key:
            raise _AuthFailed(f"secret '{endpoint.secret_name}' has no signing secret")
        timestamp = int(self._clock())
        headers.update(
            {
                "webhook-id": delivery_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(key, delivery_id, timestamp, body),
            }
        )
        return self._request("POST", url, endpoint, headers, body)

    def _token(self, endpoint: Endpoint, secret: dict[str, Any], fresh: bool) -> str:
        key = _cache_key(endpoint, endpoint.url, str(secret.get("username", "")), str(secret.get("password", "")))
        cached = self._tokens.get(key)
        if cached and not fresh and cached[1] > self._clock():
            return cached[0]
        token_url = endpoint.url.rstrip("/") + "/v1/auth/Token"
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "username": str(secret.get("username", "")),
            "password": str(secret.get("password", "")),
            "grant_type": "password",
        }
        self.token_fetches += 1
        result = self._request("POST", token_url, endpoint, headers, b"{}")
        if result.refused:
            raise _AuthFailed(f"token URL refused: {result.error}")
        try:
            answer = json.loads(result.body) if result.body else {}
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if result.status_code is None or not 200 <= result.status_code < 300 or not token:
            detail = answer.get("errorMessage") if isinstance(answer, dict) else None
            raise _AuthFailed(f"token request failed: {result.status_code or result.error} {detail or ''}".strip())
        expires_in = answer.get("expires_in")
        lifetime = float(expires_in) - TOKEN_EARLY_EXPIRY if isinstance(expires_in, int | float) else 12 * 3600
        self._tokens[key] = (str(token), self._clock() + max(lifetime, 1))
        return str(token)

    def _send_with_token(
        self, endpoint: Endpoint, url: str, headers: dict[str, str], body: bytes, secret: dict[str, Any]
    ) -> SendResult:
        headers["authorization"] = f"bearer {self._token(endpoint, secret, fresh=False)}"
        result = self._request("POST", url, endpoint, headers, body)
        if result.status_code == 401:
            headers["authorization"] = f"bearer {self._token(endpoint, secret, fresh=True)}"
            result = self._request("POST", url, endpoint, headers, body)
        return result

    def _send_with_credential(self, endpoint: Endpoint, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        key = _cache_key(endpoint, endpoint.url, endpoint.credential_url or "")
        result = self._request("POST", url, endpoint, {**headers, **self._credentials.get(key, {})}, body)
        if result.status_code != 401 or not endpoint.credential_url:
            return result
        self.credential_fetches += 1
        answer = self._request("GET", endpoint.credential_url, endpoint, {"user-agent": USER_AGENT}, None)
        try:
            fetched = json.loads(answer.body) if answer.status_code == 200 else None
        except ValueError:
            fetched = None
        if not isinstance(fetched, dict) or not fetched:
            return replace(result, error=f"Get Credential failed: {answer.status_code or answer.error}")
        self._credentials[key] = {str(k): str(v) for k, v in fetched.items()}
        return self._request("POST", url, endpoint, {**headers, **self._credentials[key]}, body)


def _cache_key(endpoint: Endpoint, *material: str) -> tuple[str, str, str]:
    """(tenant, endpoint, fingerprint of ``material``): no value is shared across tenants or survives a change."""
    fingerprint = hashlib.sha256("\x00".join(material).encode("utf-8")).hexdigest()
    return (endpoint.tenant_id, endpoint.endpoint_id, fingerprint)


def _short(error: BaseException) -> str:
    return str(error).split("\n", 1)[0][:300]
