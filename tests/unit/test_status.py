from __future__ import annotations

import pytest

from order_hub.models.status import ApiStatus, api_status_for_wms, moves_forward


@pytest.mark.parametrize(
    ("wms", "api"),
    [
        ("OPEN", ApiStatus.CREATED),
        ("DUE_OUT", ApiStatus.CREATED),
        ("RELEASED", ApiStatus.ALLOCATED),
        ("PICKING", ApiStatus.ALLOCATED),
        ("PACK", ApiStatus.PICKED),
        ("SHIPPING", ApiStatus.PACKED),
        ("SHIPPED", ApiStatus.CLOSED),
        ("CLOSED", ApiStatus.CANCELLED),  # the trap: WMS CLOSED is a cancellation
        ("cancelled", ApiStatus.CANCELLED),
    ],
)
def test_seed_status_map(wms: str, api: ApiStatus) -> None:
    assert api_status_for_wms(wms) == api


def test_unknown_wms_status_maps_to_nothing() -> None:
    assert api_status_for_wms("TELEPORTED") is None


def test_status_only_moves_forward_and_terminal_states_stay() -> None:
    assert moves_forward(ApiStatus.REGISTERED, ApiStatus.CREATED)
    assert moves_forward(ApiStatus.PICKED, ApiStatus.PACKED)
    assert not moves_forward(ApiStatus.PACKED, ApiStatus.PICKED)
    assert not moves_forward(ApiStatus.PACKED, ApiStatus.PACKED)
    assert moves_forward(ApiStatus.ALLOCATED, ApiStatus.CANCELLED)
    assert not moves_forward(ApiStatus.CLOSED, ApiStatus.CANCELLED)
    assert not moves_forward(ApiStatus.CANCELLED, ApiStatus.CREATED)
