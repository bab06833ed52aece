"""Hypothesis settings shared by the property tests (applied per test, never globally).

By default the examples are derandomized, so every run explores the same streams and a
failure always reproduces. Set HARBOUR_FUZZ=N to explore N times as many fresh random
examples instead (for a longer local or nightly run).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_FUZZ = int(os.environ.get("HARBOUR_FUZZ", "0") or 0)

BASE = settings(
    deadline=None,
    database=None,
    derandomize=not _FUZZ,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def examples(n: int) -> settings:
    """Settings for a test that should run ``n`` examples (times HARBOUR_FUZZ when fuzzing)."""
    return settings(BASE, max_examples=n * max(_FUZZ, 1))
