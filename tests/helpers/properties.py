"""Hypothesis settings shared by the property tests of the importers."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def examples(n: int) -> settings:
    """``n`` generated cases, no per-case deadline (each imports real files into DuckDB, whose
    time depends on the machine), and the health checks that large generated files trip."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
