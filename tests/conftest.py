"""Hypothesis profiles: 'ci' (the default: quick enough for every run) and 'thorough'.

    pytest                                   # the ci profile
    pytest --hypothesis-profile=thorough     # or HYPOTHESIS_PROFILE=thorough pytest

Each property test sizes its own work from the profile's ``max_examples`` (see
tests/test_properties.py), so the thorough run is the same laws over many more claims.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
