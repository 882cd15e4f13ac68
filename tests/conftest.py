"""Shared test settings and fixtures.

hypothesis runs derandomised, so every run checks the same examples. The book is
built once per session (`built_book`), for both tests/test_book.py and
tests/test_browser.py. If the browser tests had to skip, a banner says so at the end.
"""

import os
import subprocess

import pytest
from hypothesis import HealthCheck, settings

from _book import ROOT

settings.register_profile(
    "jaclab",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("JACLAB_HYPOTHESIS_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("jaclab")


@pytest.fixture(scope="session")
def built_book():
    """Run `make book` once; fail with its output if it fails. Returns the build's own output
    (from the Makefile's "Building the book" line on: not pip's, when .venv is brought up to
    date first) and the path of _build/html."""
    proc = subprocess.run(["make", "--no-print-directory", "book"], cwd=ROOT, text=True, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout
    assert proc.returncode == 0, f"`make book` failed:\n{out[-6000:]}"
    marker = out.find("==> Building the book")
    return out[max(marker, 0):], ROOT / "_build" / "html"


def pytest_terminal_summary(terminalreporter):
    """Say loudly, after the summary, that the browser tests did not run (see tests/_browser.py)."""
    import _browser

    if _browser.SKIPPED_BECAUSE:
        terminalreporter.write_line("")
        terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED", yellow=True, bold=True)
        terminalreporter.write_line(_browser.SKIPPED_BECAUSE, yellow=True, bold=True)
        terminalreporter.write_sep("!", yellow=True, bold=True)
