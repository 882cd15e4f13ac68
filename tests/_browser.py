"""Helpers for tests/test_browser.py: find Chromium, serve the built book, visit a page and report on it.

The browser is Debian's Chromium (``make test`` installs it with apt-get when it is
missing and the user is root), driven by Playwright; ``playwright install`` is never
used. Without Chromium the browser tests skip, loudly, except under ``CI=true``,
where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JACLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

#: Set when the browser tests skip; conftest.py prints it as a banner after the summary.
SKIPPED_BECAUSE = ""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def chromium_or_skip() -> str:
    """The Chromium executable; skip (fail under CI=true) with the reason when there is none."""
    global SKIPPED_BECAUSE
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    reason = (f"Chromium not found at {CHROMIUM}, so the book was NOT checked in a browser "
              "(offline pages, console errors, typeset math, the explorer). Install it with "
              "`apt-get install -y chromium` (`make test` does this when run as root), or point "
              "JACLAB_CHROMIUM at a Chromium executable.")
    if in_ci():
        pytest.fail(f"CI=true: {reason}", pytrace=False)
    SKIPPED_BECAUSE = reason
    pytest.skip(f"no Chromium at {CHROMIUM}: the book was not checked in a browser (see the banner above)")


# ---- a static file server for _build/html, on 127.0.0.1 ----------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextmanager
def serve(directory: Path):
    """Serve `directory` on a free port of 127.0.0.1 from a thread; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---- what one visit to a page found ------------------------------------------------

#: Raw TeX that should have been typeset: $$, \( \) \[ \], \begin{...}, any control word
#: (\frac, \sigma, \operatorname, ...), and $...$ holding TeX syntax.
RAW_TEX = r"\$\$|\\[()\[\]]|\\begin\{|\\end\{|\\[A-Za-z]{2,}|\$[^$\n]*[\\^_{}][^$\n]*\$"

#: Waits for MathJax's first typesetting pass (if the page loads MathJax) and for the
#: fonts, then reports: the TeX left in the text outside code and typeset math, how many
#: .math elements Sphinx wrote and how many of them hold no mjx-container, MathJax's
#: error boxes, and the explorer panels (and how many of them mounted).
PAGE_FACTS_JS = """
async (rawTex) => {
  const mathjax = Boolean(window.MathJax && MathJax.startup && MathJax.startup.promise);
  if (mathjax) await MathJax.startup.promise;
  await document.fonts.ready;
  const skip = "pre, code, kbd, samp, script, style, textarea, mjx-container, .highlight";
  const pattern = new RegExp(rawTex, "g");
  const rawTexFound = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const text = node.textContent;
    for (const m of text.matchAll(pattern)) {
      rawTexFound.push(text.slice(Math.max(0, m.index - 40), m.index + m[0].length + 40).trim());
    }
  }
  const math = document.querySelectorAll(".math");
  return {
    mathjax: mathjax,
    rawTex: rawTexFound,
    mathElements: math.length,
    untypeset: Array.from(math).filter((m) => !m.querySelector("mjx-container"))
                    .map((m) => m.textContent.slice(0, 80)),
    mjxContainers: document.querySelectorAll("mjx-container").length,
    mathErrors: Array.from(document.querySelectorAll("mjx-merror, [data-mjx-error]"))
                     .map((e) => e.getAttribute("data-mjx-error") || e.textContent),
    panels: document.querySelectorAll(".jx-panel").length,
    mountedPanels: document.querySelectorAll(".jx-panel[data-mounted][data-updates]").length,
  };
}
"""


@dataclass
class Visit:
    """What the browser saw on one page of the book."""

    page: str
    external: list[str] = field(default_factory=list)  # requests outside the book (aborted)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    broken: list[str] = field(default_factory=list)  # the book's own files that failed to load
    facts: dict = field(default_factory=dict)  # PAGE_FACTS_JS's answer


def html_pages(html: Path) -> list[str]:
    """Every .html file of the built book, as paths relative to _build/html."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html"))


def new_context(browser, base: str, external: list[str], **options):
    """A fresh browser context (no cookies, no localStorage: a first-time reader) that lets
    requests reach `base` only; every other URL is aborted and appended to `external`."""
    context = browser.new_context(**options)

    def only_the_book(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_book)
    return context


def visit(browser, base: str, html: Path, page: str) -> Visit:
    """Open `page` as a first-time reader, wait for its math, and report what happened.

    A page that redirects (index.html, to the front page) is followed to its target."""
    v = Visit(page)
    redirects = re.search(r"<meta[^>]+http-equiv=.refresh", (html / page).read_text(encoding="utf-8"), re.IGNORECASE)
    context = new_context(browser, base, v.external)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and v.console_errors.append(
        f"{m.text}  (at {m.location.get('url', '?')}:{m.location.get('lineNumber', '?')})"))
    tab.on("pageerror", lambda e: v.page_errors.append(str(e)))
    tab.on("response", lambda r: r.status >= 400 and v.broken.append(f"{r.status} {r.url}"))
    tab.on("requestfailed", lambda r: r.url.startswith(base) and v.broken.append(f"{r.failure} {r.url}"))
    try:
        tab.goto(base + page, wait_until="load")
        if redirects:
            tab.wait_for_url(lambda url: url != base + page, wait_until="load")
        v.facts = tab.evaluate(PAGE_FACTS_JS, RAW_TEX)
    finally:
        context.close()
    return v
