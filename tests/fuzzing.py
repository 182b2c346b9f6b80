"""The fuzz suite's fixed budget (hypothesis): the same examples on every run (``derandomize``, so a CI
failure reproduces locally), no per-example deadline (the machine is shared and slow), a bounded number
of examples so each fuzz test takes seconds. ``ISOBALANCE_FUZZ_EXAMPLES`` raises the budget for a long
local hunt; CI uses the default."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def budget(examples: int):
    n = int(os.environ.get("ISOBALANCE_FUZZ_EXAMPLES", examples))
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
