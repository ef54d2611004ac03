"""BatchGetItem keys DynamoDB leaves unprocessed are asked for again after growing pauses, then given up on."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from order_hub.adapters.dynamodb import BATCH_GET_ROUNDS, _DynamoAdapter


class Throttling:
    """A DynamoDB client that leaves every key unprocessed ``throttled`` times, then answers."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        keys = RequestItems["t"]["Keys"]
        if self.calls <= self.throttled:
            return {"Responses": {"t": []}, "UnprocessedKeys": {"t": {"Keys": keys}}}
        return {"Responses": {"t": [dict(key) for key in keys]}, "UnprocessedKeys": {}}


def test_unprocessed_keys_are_retried_with_exponential_backoff() -> None:
    client = Throttling(throttled=3)
    pauses: list[float] = []
    adapter = _DynamoAdapter("t", client=client)  # type: ignore[arg-type]

    items = adapter._batch_get({"t": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]}}, sleep=pauses.append)

    assert [item["pk"]["S"] for item in items] == ["a", "b"] and client.calls == 4
    assert len(pauses) == 3 and all(later > earlier for earlier, later in itertools.pairwise(pauses))
    assert 0.025 <= pauses[0] <= 0.05 and pauses[2] <= 0.2  # 50 ms doubling, jittered down to half


def test_keys_still_unprocessed_after_the_last_round_fail_the_call() -> None:
    client = Throttling(throttled=100)
    pauses: list[float] = []
    adapter = _DynamoAdapter("t", client=client)  # type: ignore[arg-type]

    with pytest.raises(RuntimeError, match="unprocessed"):
        adapter._batch_get({"t": {"Keys": [{"pk": {"S": "a"}}]}}, sleep=pauses.append)
    assert client.calls == BATCH_GET_ROUNDS and max(pauses) <= 2.0
