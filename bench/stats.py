"""Latency summaries. Nearest-rank percentiles: every reported figure is a value that was observed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile of already sorted values (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (and mean, count) of a sample of milliseconds."""
    ordered = sorted(values_ms)
    return {
        "count": len(ordered),
        "mean": sum(ordered) / len(ordered) if ordered else math.nan,
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else math.nan,
    }


def epoch(iso_utc: str) -> float:
    """Seconds since the epoch of a timestamp as the API writes it ("...Z", milliseconds)."""
    return datetime.fromisoformat(iso_utc).timestamp()
