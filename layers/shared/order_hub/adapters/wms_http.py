"""The WMS adapter: Shipper's fulfilment API over HTTP (x-api-key, metadata envelope)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from order_hub.errors import WmsAlreadyExists, WmsRejected, WmsUnavailable
from order_hub.jsonutil import dumps
from order_hub.models.wms import WmsOutbound, WmsPage

if TYPE_CHECKING:
    import requests

OMS = "/v3/fulfillment/outbound/oms"


class ShipperWmsClient:
    def __init__(self, base_url: str, api_key: str, session: requests.Session, timeout: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"x-api-key": api_key, "content-type": "application/json", "accept": "application/json"}
        self._session = session
        self._timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        import requests

        try:
            response = self._session.request(
                method,
                self._base + path,
                headers=self._headers,
                data=dumps(body) if body is not None else None,
                params=params,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise WmsUnavailable(f"{method} {path}: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise WmsUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        return response.status_code, payload

    @staticmethod
    def _message(payload: dict[str, Any], status: int) -> str:
        errors = (payload.get("metadata") or {}).get("errors") or []
        text = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
        return f"HTTP {status}: {text or 'no message'}"[:300]

    def _expect_ok(self, status: int, payload: dict[str, Any]) -> dict[str, Any]:
        if status == 409:
            raise WmsAlreadyExists(self._message(payload, status))
        if status >= 300:
            raise WmsRejected(self._message(payload, status))
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def create_outbound(self, body: dict[str, Any]) -> str:
        data = self._expect_ok(*self._call("POST", OMS, body))
        return str(data.get("wms_order_no", ""))

    def update_outbound(self, body: dict[str, Any]) -> None:
        self._expect_ok(*self._call("PUT", OMS, body))

    def cancel_outbound(self, warehouse_id: str, order_no: str, reason: str) -> None:
        body = {"data": {"cancellation": {"order_no": order_no, "warehouse_id": warehouse_id, "cancel_reason": reason[:50]}}}
        self._expect_ok(*self._call("PATCH", f"{OMS}/cancel", body))

    def list_outbounds(self, warehouse_id: str, updated_start: date, updated_end: date, page: int, limit: int) -> WmsPage:
        params = {
            "updated_start": updated_start.isoformat(),
            "updated_end": updated_end.isoformat(),
            "warehouse_id": warehouse_id,
            "page": page,
            "limit": limit,
        }
        status, payload = self._call("GET", "/v3/fulfillment/outbounds/WMS", params=params)
        data = self._expect_ok(status, payload)
        pagination = payload.get("pagination") or {}
        items = [WmsOutbound.model_validate(row) for row in data.get("outbounds", [])]
        return WmsPage(items=items, total_pages=int(pagination.get("total_pages", 1 if items else 0)))

    def get_outbound(self, warehouse_id: str, order_no: str) -> WmsOutbound | None:
        path = f"/v3/fulfillment/warehouse/{quote(warehouse_id, safe='')}/outbound/wms/{quote(order_no, safe='')}"
        status, payload = self._call("GET", path)
        if status == 404:
            return None
        data = self._expect_ok(status, payload)
        return WmsOutbound.model_validate(data.get("outbound", {}))
