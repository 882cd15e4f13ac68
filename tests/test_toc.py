"""The table of contents and the chapters folder agree: nothing is written that the book never shows."""

from _book import ROOT, toc_files


def test_every_toc_entry_exists():
    missing = [str(p.relative_to(ROOT)) for p in toc_files() if not p.exists()]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"


def test_every_chapter_is_in_the_toc():
    listed = set(toc_files())
    chapters = sorted((ROOT / "chapters").rglob("*.md"))
    unlisted = [str(p.relative_to(ROOT)) for p in chapters if p not in listed]
    assert chapters, "chapters/ is empty"
    assert not unlisted, f"chapters missing from _toc.yml (the book never shows them, CI never runs them): {unlisted}"
