"""Shared test settings: hypothesis runs derandomised, so every run checks the same examples."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "jaclab",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("JACLAB_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("jaclab")
