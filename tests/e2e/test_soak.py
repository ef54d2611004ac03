"""The soak benchmark, small: 300 orders through a local stack of its own from 8 clients, duplicate
webhooks and create replays alongside; nothing lost, nothing doubled, no 5xx, memory bounded and flat
once the orders have settled."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import rss_curve_text, run_soak

ORDERS = 300
RSS_LIMIT_MB = 1024
IDLE_SECONDS = 20
IDLE_GROWTH_LIMIT_MB = 40  # pumps poll, snapshots are written: nothing they do may pile up


@pytest.mark.timeout(1500)
def test_300_orders_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    result = run_soak(
        ORDERS, clients=8, replay_ratio=0.25, timeout=1200, progress=False, workdir=tmp_path, idle_seconds=IDLE_SECONDS
    )
    log = (tmp_path / "stack.log").read_text(errors="replace").splitlines()
    context = f"{result.summary()}\nstack log tail:\n" + "\n".join(log[-40:])

    assert result.acknowledged == ORDERS + 1, context  # and the probe order
    assert result.lost == [], context
    assert result.duplicated == [], context
    assert result.server_errors == 0, context
    assert result.undelivered == [], context
    assert 0 < result.peak_rss_mb < RSS_LIMIT_MB, context
    assert result.idle_growth_mb() < IDLE_GROWTH_LIMIT_MB, f"{rss_curve_text(result)}\n{context}"
