"""Test budgets: small in CI, larger under ``make stress`` (``CONVEXNN_STRESS=1``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

STRESS = os.environ.get("CONVEXNN_STRESS", "") not in ("", "0")


def examples(ci: int, stress: int | None = None) -> settings:
    """Hypothesis settings with ``ci`` examples, or ``stress`` (default 10x) under stress."""
    n = (stress if stress is not None else 10 * ci) if STRESS else ci
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=not STRESS,  # CI runs are reproducible; stress runs explore
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def seeds(ci: int, stress: int | None = None) -> list[int]:
    """Seeds to rotate through: ``range(ci)`` in CI, more under stress."""
    return list(range((stress if stress is not None else 5 * ci) if STRESS else ci))
