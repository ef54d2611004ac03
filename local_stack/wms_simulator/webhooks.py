"""The WMS simulator's webhooks: payloads and the outbox (settings, held confirmations, the delivery log).
Delivery itself is the sender's (``sender.py``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_stack.wms_simulator.model import OPEN, Order, OrderKey, carrier_for, dumps, iso_z, space_time, utc_now
from local_stack.wms_simulator.sender import WebhookJob, WebhookSender

EVENT_CONFIRMATION = "fulfillment.outbound.order.confirmation"
KIND_CONFIRMATION = "order_confirmation"
KIND_PGI = "pgi"
WEBHOOK_PATHS = {KIND_CONFIRMATION: "order-confirmation", KIND_PGI: "pgi"}

_PGI_LINE_BLANKS = ("receipt_date", "user_define_1", "user_define_2", "user_define_3", "project_ref_no")


def confirmation_payload(order: Order) -> dict[str, Any]:
    return {
        "event": EVENT_CONFIRMATION,
        "order_no": order.order_no,
        "warehouse_id": order.warehouse_id,
        "wms_order_no": order.wms_order_no,
        "so_status": OPEN,
        "confirmed_at": space_time(order.created_at),
    }


def pgi_payload(order: Order, moment: datetime) -> dict[str, Any]:
    carrier_id, carrier_name = carrier_for(order.express_code)
    details = [
        {
            "sku": line.sku,
            "qty_shipped": order.quantities(line)[2],
            "mfg_date": line.mfg_date,
            "exp_date": line.exp_date,
            "stock_condition": "N",
            "batch_no": line.batch_no,
            "serial_no": line.serial_no,
            **dict.fromkeys(_PGI_LINE_BLANKS, ""),
        }
        for line in order.lines
    ]
    return {
        "warehouse_id": order.warehouse_id,
        "order_type": "SO",
        "doc_no": order.order_no,
        "delivery_no": order.delivery_no,
        "carrier_id": carrier_id,
        "carrier_name": carrier_name,
        "customer_id": order.customer_id,
        "so_reference_a": "",
        "so_reference_b": order.order_no,
        "user_define_1": "",
        "user_define_2": "",
        "user_define_3": "",
        "pgi_date": space_time(moment),
        "shop_code": "",
        "details": details,
    }


@dataclass
class WebhookSettings:
    enabled: bool = True
    drop: bool = False
    duplicate: bool = False
    reorder: bool = False

    def view(self) -> dict[str, bool]:
        return {"enabled": self.enabled, "drop": self.drop, "duplicate": self.duplicate, "reorder": self.reorder}


class WebhookOutbox:
    """Raises webhooks for order changes: applies the settings (drop, duplicate, reorder), holds
    reordered confirmations, hands the rest to the sender and keeps the delivery log.

    ``lock`` is the simulator's state lock (re-entrant): the state machine raises webhooks while
    holding it, and the sender thread takes it to record an attempt.
    """

    def __init__(self, lock: threading.RLock, secret_for: Callable[[str], str | None], sender_options: dict[str, Any]) -> None:
        self._lock = lock
        self._secret_for = secret_for
        self.hub_url: str | None = None
        self.settings = WebhookSettings()
        self._held: dict[OrderKey, list[WebhookJob]] = {}
        self._deliveries: list[dict[str, Any]] = []
        self._webhook_seq = itertools.count(1)
        self._delivery_seq = itertools.count(1)
        self._generation = 0
        self.sender = WebhookSender(record=self._record_attempt, **sender_options)

    def reset(self) -> None:
        """Forget settings, held and queued webhooks and the log; late records of earlier ones are ignored."""
        with self._lock:
            self.settings = WebhookSettings()
            self._held.clear()
            self._deliveries.clear()
            self._webhook_seq = itertools.count(1)
            self._delivery_seq = itertools.count(1)
            self._generation += 1
            self.sender.clear()

    def configure(self, **changes: bool | None) -> dict[str, bool]:
        """Change the settings given (None leaves one as is); switching reorder off releases what it held."""
        with self._lock:
            for name, value in changes.items():
                if value is not None:
                    setattr(self.settings, name, value)
            if changes.get("reorder") is False:
                for key in list(self._held):
                    self.release_held(key)
            return self.settings.view()

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._deliveries]

    def raise_webhook(self, order: Order, kind: str, payload: dict[str, Any]) -> None:
        settings = self.settings
        if not settings.enabled:
            return
        url = f"{self.hub_url}/webhooks/wms/{order.tenant_id}/{WEBHOOK_PATHS[kind]}" if self.hub_url else None
        webhook_id = f"whk-{next(self._webhook_seq):06d}"
        body = dumps(payload)
        jobs = [
            WebhookJob(
                webhook_id=webhook_id,
                kind=kind,
                tenant_id=order.tenant_id,
                warehouse_id=order.warehouse_id,
                order_no=order.order_no,
                url=url,
                secret=self._secret_for(order.tenant_id),
                payload=payload,
                body=body,
                copy=copy,
                drop=settings.drop,
                generation=self._generation,
            )
            for copy in ((1, 2) if settings.duplicate else (1,))
        ]
        if kind == KIND_CONFIRMATION and settings.reorder:
            self._held.setdefault(order.key, []).extend(jobs)
            return
        for job in jobs:
            self._dispatch(job)

    def release_held(self, key: OrderKey) -> None:
        for job in self._held.pop(key, []):
            self._dispatch(job)

    def _dispatch(self, job: WebhookJob) -> None:
        if job.drop:
            self._record(job, 0, None, None, "dropped")
        elif job.url is None or job.secret is None:
            reason = "no hub_url configured" if job.url is None else f"no webhook secret for tenant {job.tenant_id}"
            self._record(job, 0, None, reason, "undeliverable")
        else:
            self.sender.submit(job)

    def _record_attempt(
        self, job: WebhookJob, attempt: int, status: int | None, error: str | None, headers: dict[str, str]
    ) -> None:
        outcome = "delivered" if status is not None and 200 <= status < 300 else "failed"
        self._record(job, attempt, status, error, outcome, headers)

    def _record(
        self,
        job: WebhookJob,
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._lock:
            if job.generation != self._generation:
                return
            self._deliveries.append(
                {
                    "seq": next(self._delivery_seq),
                    "webhook_id": job.webhook_id,
                    "kind": job.kind,
                    "tenant_id": job.tenant_id,
                    "warehouse_id": job.warehouse_id,
                    "order_no": job.order_no,
                    "url": job.url,
                    "copy": job.copy,
                    "attempt": attempt,
                    "status_code": status,
                    "outcome": outcome,
                    "error": error,
                    "headers": dict(headers or {}),
                    "payload": job.payload,
                    "at": iso_z(utc_now()),
                }
            )
