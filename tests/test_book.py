"""The whole book builds with warnings as errors (-W -n --keep-going), exactly as `make book` builds it."""

from __future__ import annotations

import re

import pytest

from _book import ROOT, toc_files

# `built_book` (one `make book` per session, shared with test_browser.py) is in conftest.py.


@pytest.mark.slow
def test_book_builds_with_zero_warnings(built_book):
    out, _ = built_book
    # Sphinx writes "path:line: WARNING: message" (the kernel's own "WARNING |" log lines are not build warnings).
    warnings = [line for line in out.splitlines() if re.search(r"\bWARNING: |\bERROR: ", line)]
    assert not warnings, "\n".join(warnings)


@pytest.mark.slow
def test_every_toc_page_is_rendered(built_book):
    _, html = built_book
    missing = [p.stem for p in toc_files() if not (html / p.relative_to(ROOT).with_suffix(".html")).exists()]
    assert not missing, f"pages missing from _build/html: {missing}"


@pytest.mark.slow
def test_no_cell_error_reached_the_page(built_book):
    _, html = built_book
    bad = []
    for page in toc_files():
        text = (html / page.relative_to(ROOT).with_suffix(".html")).read_text()
        if "Traceback (most recent call last)" in text or 'class="output traceback' in text:
            bad.append(page.stem)
    assert not bad, f"pages showing a traceback: {bad}"
