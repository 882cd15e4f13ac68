"""Every notebook in _toc.yml runs top to bottom in a fresh kernel without an error.

The chapters assert their own claims, so a wrong formula in the book fails here.
"""

from __future__ import annotations

import jupytext
import pytest
from nbclient import NotebookClient

from _book import notebook_pages

PAGES = notebook_pages()


def test_the_book_has_notebooks():
    assert len(PAGES) >= 12, [p.name for p in PAGES]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_notebook_executes(page):
    nb = jupytext.read(page)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(page.parent)}})
    client.execute()  # raises CellExecutionError, with the traceback, on any failing cell
