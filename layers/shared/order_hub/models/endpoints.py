"""Client callback endpoints and the log of deliveries to them.

An endpoint holds no secret values: ``secret_name`` points at a Secrets Manager secret (JSON) that
holds static headers, Unicommerce username/password or a Standard Webhooks ``whsec_`` secret.
"""

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from order_hub.models.common import Stored

EndpointFormat = Literal["shipper", "increff", "unicommerce", "standard"]
FORMATS: tuple[EndpointFormat, ...] = ("shipper", "increff", "unicommerce", "standard")

AuthKind = Literal["none", "headers", "increff_credential", "unicommerce_token", "standard_webhooks"]


# Static headers an endpoint may add to every callback: RFC 9110 field names (tokens) and values
# of visible characters, spaces and tabs (no CR/LF: no header injection). Headers that frame or
# route the request, or that the hub itself sets for the format, cannot be replaced.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
_FIELD_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
RESERVED_HEADERS = frozenset(
    {
        # hop-by-hop and framing (RFC 9110 section 7.6.1, RFC 9112)
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
        # set by the hub for the format: content, signatures and tokens
        "content-type",
        "content-encoding",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def header_problem(name: str, value: str) -> str | None:
    """Why a static header cannot be sent as given, or None."""
    if not _TOKEN.match(name):
        return f"header name {name[:100]!r} is not an HTTP token (RFC 9110: letters, digits and !#$%&'*+-.^_`|~)"
    if name.lower() in RESERVED_HEADERS:
        return f"header {name!r} is set by the hub or the connection and cannot be replaced"
    if not _FIELD_VALUE.match(value):
        return f"header {name!r} has a value with control characters (CR, LF and others are not allowed)"
    return None


class FormatSettings(Stored):
    """Per-endpoint values a vendor format needs and a Shipper order lacks.

    Order extension fields (``Order.ext`` / ``Line.ext``) win over these; when neither has a value
    the delivery fails permanently naming the field (tax and codes are never guessed).
    """

    partner_code: str | None = Field(default=None, max_length=255, description="Increff partnerCode")
    partner_location_code: str | None = Field(default=None, max_length=255, description="Increff partnerLocationCode")
    location_codes: dict[str, str] = Field(default_factory=dict, description="warehouse_id -> Increff locationCode")
    channel_names: dict[str, str] = Field(default_factory=dict, description="platform -> Increff channelName")
    channel_type: str | None = Field(default=None, max_length=255, description="Increff channelType")
    facility_codes: dict[str, str] = Field(default_factory=dict, description="warehouse_id -> Unicommerce facilityCode")
    channel_codes: dict[str, str] = Field(default_factory=dict, description="platform -> Unicommerce channelCode")
    default_country: str | None = Field(default=None, max_length=60, description="Country for addresses without one")
    unicommerce_order_status: str = Field(default="COMPLETE", max_length=40, description="orderStatus sent on dispatch")


class Endpoint(Stored):
    tenant_id: str
    endpoint_id: str
    url: str
    format: EndpointFormat
    events: list[str] = Field(default_factory=list, description="Hub event types to deliver; empty = all the format emits")
    auth: AuthKind = "none"
    secret_name: str | None = None
    credential_url: str | None = Field(default=None, description="Increff Get Credential URL (GET on 401)")
    enabled: bool = True
    disabled_reason: str = ""
    rate_limit_per_second: int | None = None
    timeout_seconds: float = 15.0
    settings: FormatSettings = Field(default_factory=FormatSettings)
    description: str = ""
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.events or event_type in self.events)


ATTEMPTS_KEPT = 3
"""Attempts a delivery record keeps in full (older ones are counted): the record stays small, so
every write of it is about 1-2 KB however often the callback fails."""

DeliveryStatus = Literal["pending", "delivering", "retrying", "delivered", "failed", "skipped"]


class Attempt(Stored):
    n: int
    at: datetime
    outcome: Literal["delivered", "retry", "failed", "deferred"]
    status_code: int | None = None
    latency_ms: int = 0
    reason: str = ""
    response: str = Field(default="", description="Response body, truncated")


class DeliveryRef(Stored):
    """What identifies a delivery: one event for one endpoint (``delivery_id`` = event id + endpoint id).

    The delivery queue's messages carry exactly this; the delivery log adds the history.
    """

    delivery_id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    warehouse_id: str
    order_no: str
    seq: int
    message_id: int | None = Field(
        default=None, description="Increff messageId: from the endpoint's counter, kept across retries"
    )
    prev_seq: int | None = Field(
        default=None,
        description="seq of the order's previous event planned for this endpoint (None: the first): the delivery waits for it",
    )

    @property
    def event_key(self) -> tuple[str, str, str, int]:
        return (self.tenant_id, self.warehouse_id, self.order_no, self.seq)

    def ref(self) -> "DeliveryRef":
        return DeliveryRef.model_validate(self.model_dump(include=set(DeliveryRef.model_fields)))


class Delivery(DeliveryRef):
    """A delivery with its status and attempt log (the deliveries table)."""

    status: DeliveryStatus = "pending"
    attempt_count: int = 0
    attempt_base: int = Field(default=0, description="attempt_count when last replayed: the retry schedule restarts there")
    replays: int = 0
    attempts: list[Attempt] = Field(default_factory=list, description=f"The last {ATTEMPTS_KEPT} attempts in full")
    attempts_dropped: int = Field(default=0, description="Older attempts not kept (counted only)")
    last_error: str = ""
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    def with_attempt(self, attempt: Attempt) -> "Delivery":
        """The delivery with ``attempt`` logged: the last ``ATTEMPTS_KEPT`` in full, the older ones counted."""
        attempts = [*self.attempts, attempt]
        dropped = max(0, len(attempts) - ATTEMPTS_KEPT)
        return self.model_copy(update={"attempts": attempts[dropped:], "attempts_dropped": self.attempts_dropped + dropped})

    @property
    def round_attempts(self) -> int:
        """Attempts since the delivery was (re)opened: what the retry schedule counts."""
        return self.attempt_count - self.attempt_base


class EventChain(BaseModel):
    """What an order's stored event record (``EVENT#<seq>``) says about the deliveries planned so far.

    ``last_at``: endpoint id -> seq of the order's latest event (at or before ``seq``) planned for that
    endpoint; ``prev_at``: for the endpoints planned at ``seq`` itself, the seq planned there before
    (absent: none); ``message_ids``: endpoint id -> the Increff ``messageId`` of the event at
    ``last_at`` (numbered formats only). The next event of the order links its deliveries from it,
    and a stream redelivery of ``seq`` finds its own ids and links again.
    """

    model_config = ConfigDict(frozen=True)

    seq: int
    last_at: dict[str, int] = Field(default_factory=dict)
    prev_at: dict[str, int] = Field(default_factory=dict)
    message_ids: dict[str, int] = Field(default_factory=dict)


def delivery_id_for(event_id: str, endpoint_id: str) -> str:
    return f"{event_id}.{endpoint_id}"
