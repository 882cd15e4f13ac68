"""Helpers for the tests that read the book: the repository root and the chapters listed in _toc.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[Path]:
    """Every page listed in _toc.yml (root first), as paths to existing .md files."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [ROOT / f"{name}.md" for name in entries]


def notebook_pages() -> list[Path]:
    """The pages in the table of contents that are notebooks: their front matter has a kernelspec."""
    pages = []
    for page in toc_files():
        text = page.read_text()
        if text.startswith("---") and "kernelspec:" in text.split("---", 2)[1]:
            pages.append(page)
    return pages
