"""The built book works offline, in a real browser: Chromium, driven by Playwright.

Every page of _build/html is opened from a server on 127.0.0.1, as a first-time reader
(a fresh profile). Any request that leaves that server is counted and aborted. Each
page must then log no console error, and all of its math must be typeset by the
MathJax the book ships. The explorer panels are moved with the keyboard and with
typed values, and every number they show must equal what jaclab computes (float64)
for the logits and temperature read back from the panel's own inputs.

Screenshots of the explorer go to test-artifacts/. Without Chromium the browser tests
skip with a banner (they fail under CI=true); the two checks of the HTML files at
the top of this module need no browser and always run.
"""

from __future__ import annotations

import html.parser
import math
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
import yaml

import jaclab
from _book import ROOT, notebook_pages, toc_files
from _browser import CHROMIUM_ARGS, chromium_or_skip, html_pages, new_context, serve, visit


pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts"
EXPLORE_CHAPTER = ROOT / "chapters" / "13-explore.md"
TOL = 1e-6


# ---- the HTML files, read without a browser -----------------------------------------

#: Attributes through which a page makes the browser fetch something.
FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("img", "srcset"),
            ("iframe", "src"), ("source", "src"), ("source", "srcset"), ("video", "src"),
            ("video", "poster"), ("audio", "src"), ("embed", "src"), ("object", "data"),
            ("input", "src"), ("track", "src")}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_EXTERNAL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


class _Tags(html.parser.HTMLParser):
    """Collects every (tag, attributes) and the text of inline <style> elements."""

    def __init__(self):
        super().__init__()
        self.tags, self.styles, self._in_style = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _tags(path):
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_no_page_loads_anything_from_outside_the_book(built_book):
    """No <script src>, <link href> (stylesheets, fonts, preloads, icons), image, frame or
    CSS url()/@import of any page or stylesheet points outside the book. Links a reader
    may click (<a href>) are not fetched and may go anywhere."""
    _, html = built_book
    found = []
    for page in html_pages(html):
        parsed = _tags(html / page)
        for tag, attrs in parsed.tags:
            for name, value in attrs.items():
                fetched = (tag, name) in FETCHING and not (tag == "link" and attrs.get("rel") == "canonical")
                if fetched and value and EXTERNAL.match(value):
                    found.append(f"{page}: <{tag} {name}={value!r}>")
            if "style" in attrs:
                found += [f"{page}: style attribute {u}" for u in CSS_EXTERNAL.findall(attrs["style"])]
        found += [f"{page}: <style> {u}" for css in parsed.styles for u in CSS_EXTERNAL.findall(css)]
    for css in html.rglob("*.css"):
        found += [f"{css.relative_to(html)}: {u}" for u in CSS_EXTERNAL.findall(css.read_text(encoding="utf-8"))]
    assert not found, "the book fetches from outside itself:\n" + "\n".join(found)


def test_launch_buttons_are_plain_links_to_binder_colab_and_jupyterhub(built_book):
    """Every notebook page links its own source on Binder, Colab and JupyterHub (the
    addresses in _config.yml); no Thebe button, which would load code from a CDN."""
    _, html = built_book
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo, launch = config["repository"], config["launch_buttons"]
    org_repo = repo["url"].rstrip("/").split("github.com/")[1]
    branch, book = repo["branch"], (repo.get("path_to_book") or "").strip("/")
    problems = []
    for source in notebook_pages():
        rel = source.relative_to(ROOT).as_posix()
        path = f"{book}/{rel}" if book else rel
        page = source.relative_to(ROOT).with_suffix(".html").as_posix()
        hrefs = {a.get("href") for tag, a in _tags(html / page).tags if tag == "a"}
        expected = {
            "Binder": f"{launch['binderhub_url']}/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{path}",
            "Colab": f"{launch['colab_url']}/github/{org_repo}/blob/{branch}/{path}",
        }
        problems += [f"{page}: no {name} link {url}" for name, url in expected.items() if url not in hrefs]
        # JupyterHub: nbgitpuller clones the repository into a folder named after it, then opens the page.
        hub = f"{launch['jupyterhub_url']}/hub/user-redirect/git-pull"
        pulls = [parse_qs(urlsplit(h).query) for h in hrefs if h and h.split("?")[0] == hub]
        want = {"repo": [repo["url"]], "branch": [branch], "urlpath": [f"lab/tree/{org_repo.split('/')[1]}/{path}"]}
        if want not in pulls:
            problems.append(f"{page}: no JupyterHub link {hub}?{want}")
        if "launch-thebe" in (html / page).read_text(encoding="utf-8"):
            problems.append(f"{page}: has a Thebe button")
    assert not problems, "\n".join(problems)


# ---- the browser --------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright; skips (fails under CI=true) when there is none."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def book_url(built_book):
    """_build/html, served from a thread on a free port of 127.0.0.1."""
    _, html = built_book
    with serve(html) as base:
        yield base


@pytest.fixture(scope="session")
def visits(browser, book_url, built_book):
    """Every .html page of the book, opened once, each by a first-time reader."""
    _, html = built_book
    pages = html_pages(html)
    assert len(pages) >= len(toc_files()), pages
    return {page: visit(browser, book_url, html, page) for page in pages}


def _report(visits, attribute):
    return "\n".join(f"{v.page}: {item}" for v in visits.values() for item in getattr(v, attribute))


def test_no_page_requests_anything_outside_the_book(visits):
    """Every request goes to the book's own server; the count of the others is 0."""
    count = sum(len(v.external) for v in visits.values())
    assert count == 0, f"{count} requests outside the book (aborted):\n{_report(visits, 'external')}"


def test_every_file_a_page_asks_for_is_in_the_book(visits):
    assert not _report(visits, "broken"), "missing or failing files:\n" + _report(visits, "broken")


def test_no_page_logs_a_console_error(visits):
    errors = "\n".join(filter(None, [_report(visits, "console_errors"), _report(visits, "page_errors")]))
    assert not errors, "console errors and uncaught exceptions:\n" + errors


def test_every_formula_is_typeset(visits):
    """MathJax (served by the book) typesets every .math element; no raw TeX is left in the
    text outside code, and MathJax reports no error (an unknown macro, say)."""
    problems = []
    for v in visits.values():
        f = v.facts
        if f["mathElements"] and not f["mathjax"]:
            problems.append(f"{v.page}: {f['mathElements']} formulas but MathJax never started")
        if f["mathElements"] and not f["mjxContainers"]:
            problems.append(f"{v.page}: has math but no mjx-container")
        problems += [f"{v.page}: not typeset: {t!r}" for t in f["untypeset"]]
        problems += [f"{v.page}: raw TeX in the text: {t!r}" for t in f["rawTex"]]
        problems += [f"{v.page}: MathJax error: {t!r}" for t in f["mathErrors"]]
    assert not problems, "\n".join(problems)


def test_the_chapters_math_is_there_to_check(visits):
    """The check above is not vacuous: the chapters' formulas reached the pages and were typeset."""
    typeset = {p: visits[p].facts["mjxContainers"] for p in _toc_pages()}
    assert sum(typeset.values()) >= 100 and sum(n > 0 for n in typeset.values()) >= len(typeset) // 2, typeset


def test_search_works_offline(browser, book_url):
    external = []
    context = new_context(browser, book_url, external)
    try:
        tab = context.new_page()
        tab.goto(book_url + "search.html?q=Jacobian")
        tab.wait_for_selector("#search-results li", timeout=15_000)
        assert tab.locator("#search-results li").count() >= 5
    finally:
        context.close()
    assert not external


# ---- the explorer ---------------------------------------------------------------------

def _toc_pages() -> list[str]:
    return [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in toc_files()]


@pytest.fixture(scope="session")
def explorer_pages(visits):
    """The toc pages that show an explorer panel, in reading order."""
    return [p for p in _toc_pages() if visits[p].facts["panels"]]


def test_the_book_has_an_explorer(explorer_pages, visits):
    assert explorer_pages, "no page of the book shows a .jx-panel (jaclab.explore())"
    if EXPLORE_CHAPTER.exists():
        page = "chapters/13-explore.html"
        assert page in visits, f"{EXPLORE_CHAPTER.name} exists but {page} was not built (is it in _toc.yml?)"
        assert visits[page].facts["panels"] >= 1, f"{page} shows no explorer panel"


def test_every_explorer_panel_starts_up(visits):
    """Each panel's script ran: it is mounted and has drawn its first state."""
    idle = {p: v.facts for p, v in visits.items() if v.facts["panels"] != v.facts["mountedPanels"]}
    assert not idle, f"panels that did not start: {idle}"


READ_PANEL_JS = """
(root) => {
  const data = JSON.parse(root.querySelector("script.jx-data").textContent);
  const K = Number(root.getAttribute("data-k"));
  const idx = Array.from({ length: K }, (_, i) => i);
  const input = (label) => root.querySelector(`input[aria-label="${label}"]`).value;
  const num = (role) => {
    const e = root.querySelector(`[data-role="${role}"]`);
    return { text: e.textContent, value: Number(e.getAttribute("data-value")) };
  };
  const heatmap = root.querySelector('svg[aria-label="heatmap of the Jacobian J"]');
  return {
    data: data,
    K: K,
    updates: Number(root.getAttribute("data-updates")),
    zRange: idx.map((i) => Number(input(`logit z${i + 1}`))),
    z: idx.map((i) => Number(input(`logit z${i + 1} value`))),
    g: idx.map((i) => Number(input(`upstream gradient g${i + 1} value`))),
    log10T: Number(root.querySelector('input[aria-label="temperature (log10 T)"]').value),
    T: num("T"),
    sigma: idx.map((i) => num(`sigma-${i}`)),
    J: idx.map((i) => idx.map((j) => num(`J-${i}-${j}`))),
    eig: idx.map((i) => num(`eig-${i}`)),
    vjp: idx.map((i) => num(`vjp-${i}`)),
    fills: Array.from(heatmap.querySelectorAll("rect.jx-cell")).map((r) => r.getAttribute("fill")),
    heatmap: heatmap.outerHTML,
  };
}
"""


def read_panel(panel) -> dict:
    return panel.evaluate(READ_PANEL_JS)


def expected_from_jaclab(z, T, g):
    """What jaclab says the panel must show for these logits, temperature and gradient."""
    u = torch.tensor(z, dtype=torch.float64) / T
    sigma = jaclab.softmax(u)
    J = jaclab.softmax_jacobian(u)
    return {"sigma": sigma, "J": J, "eig": torch.linalg.eigvalsh(J),
            "vjp": jaclab.softmax_vjp(torch.tensor(g, dtype=torch.float64), sigma)}


def assert_panel_follows_jaclab(state, where):
    """Every σᵢ, J_ij, eigenvalue and (Jᵀg)ᵢ shown (text and data-value) equals jaclab's, to 1e-6,
    for the z, T and g read back from the inputs; the heatmap is coloured by the sign of J."""
    # The sliders move in steps (0.05 for z, 0.01 for log10 T), so a value typed into a box, or
    # given to jaclab.explore(), can lie between two slider positions: the boxes and the T
    # readout hold the exact values, and each slider must sit within half a step of them.
    K, z, g = state["K"], state["z"], state["g"]
    T = state["T"]["value"]
    problems = [f"range z{i + 1}={r} is not the box's {b} to within half a step"
                for i, (r, b) in enumerate(zip(state["zRange"], z)) if abs(r - b) > 0.025 + 1e-9]
    if abs(math.log10(T) - state["log10T"]) > 0.005 + 1e-9:
        problems.append(f"T is {T} but the slider says log10 T = {state['log10T']}")
    if not math.isclose(float(state["T"]["text"]), T, rel_tol=5e-3):
        problems.append(f"T reads {state['T']['text']} but is {T}")
    ref = expected_from_jaclab(z, T, g)
    cells = {"sigma": [(f"sigma-{i}", state["sigma"][i], ref["sigma"][i]) for i in range(K)],
             "J": [(f"J-{i}-{j}", state["J"][i][j], ref["J"][i, j]) for i in range(K) for j in range(K)],
             "eig": [(f"eig-{i}", state["eig"][i], ref["eig"][i]) for i in range(K)],
             "vjp": [(f"vjp-{i}", state["vjp"][i], ref["vjp"][i]) for i in range(K)]}
    for role, shown, want in (c for group in cells.values() for c in group):
        want = float(want)
        if abs(float(shown["text"]) - want) > TOL or abs(shown["value"] - want) > TOL:
            problems.append(f"{role}: shows {shown['text']} (data-value {shown['value']}), jaclab {want:.10f}")
    assert len(state["fills"]) == K * K, f"heatmap has {len(state['fills'])} cells for K={K}"
    for k, fill in enumerate(state["fills"]):
        r, _, b = (int(c) for c in re.findall(r"\d+", fill))
        Jij = float(ref["J"][k // K, k % K])
        if abs(Jij) > 0.02 and (r > b) != (Jij > 0):
            problems.append(f"heatmap cell ({k // K + 1},{k % K + 1}) is {fill} for J = {Jij:+.4f}")
    assert not problems, f"{where} (z={z}, T={T}, g={g}):\n" + "\n".join(problems)


class Driver:
    """Moves one panel's controls and checks it after every move."""

    def __init__(self, page, panel, name):
        self.page, self.panel, self.name = page, panel, name
        self.state = read_panel(panel)
        assert_panel_follows_jaclab(self.state, f"{name}: initial state")

    def control(self, label):
        return self.panel.locator(f'input[aria-label="{label}"]')

    def move(self, what, action, *args, heatmap="redrawn"):
        """Call `action(*args)`, wait for the panel to redraw, check every number against jaclab, and
        check the heatmap: "recoloured" (its fill colours changed), "redrawn" (its SVG changed:
        a small step may move J by less than one shade, but each cell's tooltip holds J_ij to
        six decimals) or "unchanged". Returns the new state."""
        before = self.state
        action(*args)
        self.page.wait_for_function("([el, n]) => Number(el.getAttribute('data-updates')) > n",
                                    arg=[self.panel.element_handle(), before["updates"]], timeout=5_000)
        self.state = read_panel(self.panel)
        where = f"{self.name}: after {what}"
        assert_panel_follows_jaclab(self.state, where)
        recoloured = self.state["fills"] != before["fills"]
        redrawn = self.state["heatmap"] != before["heatmap"]
        # The heat map can only show what J does. In a saturated state (one σ_i ≈ 1, e.g. at a low
        # temperature) a move may change J by less than one shade (0.02) or even by less than the
        # tooltips' six decimals; then a recolouring, or any change at all, is not to be expected.
        J_before, J_after = (expected_from_jaclab(s["z"], s["T"]["value"], s["g"])["J"]
                             for s in (before, self.state))
        if J_after.shape == J_before.shape and heatmap != "unchanged":
            change = (J_after - J_before).abs().max().item()
            if change < 1e-6:
                heatmap = None
            elif change < 0.02 and heatmap == "recoloured":
                heatmap = "redrawn"
        if heatmap is not None:
            assert {"recoloured": recoloured, "redrawn": redrawn, "unchanged": not redrawn}[heatmap], \
                f"{where}: the heatmap should be {heatmap} (fills changed: {recoloured}, SVG changed: {redrawn})"
        return self.state


@pytest.fixture
def tab(browser, book_url):
    """A tab for driving the explorer. MathJax is replaced by an empty script: the pages' math
    is checked above, and typesetting hundreds of formulas per page would only slow this down."""
    external = []
    context = new_context(browser, book_url, external, viewport={"width": 1280, "height": 900})
    context.route("**/_static/mathjax/**", lambda route: route.fulfill(body="", content_type="text/javascript"))
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not external, f"requests outside the book: {external}"
    assert not errors, f"console errors while using the explorer: {errors}"


def _panels(tab, book_url, explorer_pages):
    """Open each explorer page in turn; yield (page name, its first panel)."""
    for page in explorer_pages:
        tab.goto(book_url + page)
        yield page, tab.locator(".jx-panel").first


def test_logit_sliders_move_with_the_keyboard(tab, book_url, explorer_pages):
    for page, panel in _panels(tab, book_url, explorer_pages):
        d = Driver(tab, panel, page)
        limit = d.state["data"]["limit"]
        z1 = d.control("logit z1")
        z1.focus()
        start = d.state["z"][0]
        for key, want, heatmap in [("ArrowRight", start + 0.05, "redrawn"), ("ArrowLeft", start, "redrawn"),
                                   ("ArrowLeft", start - 0.05, "redrawn"), ("End", limit, "recoloured"),
                                   ("Home", -limit, "recoloured"), ("ArrowRight", -limit + 0.05, "redrawn")]:
            state = d.move(f"pressing {key} on z1", tab.keyboard.press, key, heatmap=heatmap)
            assert state["z"][0] == pytest.approx(want, abs=1e-9), f"{page}: {key} left z1 at {state['z'][0]}"
        z2_before = d.state["z"][1]
        d.control("logit z2").focus()
        state = d.move("pressing PageUp on z2", tab.keyboard.press, "PageUp")
        assert state["z"][1] > z2_before, f"{page}: PageUp did not raise z2"


def test_typed_values_move_the_panel(tab, book_url, explorer_pages):
    for page, panel in _panels(tab, book_url, explorer_pages):
        d = Driver(tab, panel, page)
        state = d.move("typing 0.37 into the z2 box", d.control("logit z2 value").fill, "0.37")
        assert state["z"][1] == 0.37 and state["zRange"][1] == pytest.approx(0.35)
        state = d.move("setting the z1 slider to -1.5", d.control("logit z1").fill, "-1.5", heatmap="recoloured")
        assert state["z"][0] == -1.5
        for log10T in ("0.5", "-1", "1"):  # T = 3.16, 0.1 (nearly one-hot), 10 (nearly uniform)
            state = d.move(f"setting log10 T to {log10T}", d.control("temperature (log10 T)").fill, log10T,
                           heatmap="recoloured")
            assert state["log10T"] == float(log10T) and state["T"]["value"] == pytest.approx(10 ** float(log10T))
        # The upstream gradient moves the VJP only: J, and so its heatmap, stay as they were.
        state = d.move("typing -0.8 into the g2 box", d.control("upstream gradient g2 value").fill, "-0.8",
                       heatmap="unchanged")
        assert state["g"][1] == -0.8


def test_K_buttons_and_reset(tab, book_url, explorer_pages):
    for page, panel in _panels(tab, book_url, explorer_pages):
        d = Driver(tab, panel, page)
        initial = d.state
        pad = initial["data"]["padZ"]
        for K in (8, 2, 5):
            state = d.move(f"choosing K = {K}", panel.locator(f'button[data-k="{K}"]').click, heatmap="recoloured")
            assert state["K"] == K
        assert state["z"][:2] == initial["z"][:2] and state["z"][2:] == pad[2:5]
        d.move("typing 4 into the z1 box", d.control("logit z1 value").fill, "4")
        d.move("pressing Reset", panel.locator("button.jx-reset").click)
        assert (d.state["z"], d.state["log10T"], d.state["fills"]) == (initial["z"], initial["log10T"], initial["fills"])


def _luminance(css_colour: str) -> float:
    r, g, b = (int(c) / 255 for c in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_explorer_screenshots_in_light_and_dark_mode(browser, book_url, explorer_pages, scheme):
    """A reader whose system prefers `scheme` gets the theme and the panel in that scheme.
    Screenshots (the panel, the panel in the page, the whole page) go to test-artifacts/."""
    page = "chapters/13-explore.html" if EXPLORE_CHAPTER.exists() else explorer_pages[0]
    external = []
    # Tall enough for the whole panel to fit below the theme's sticky header.
    context = new_context(browser, book_url, external, color_scheme=scheme,
                          viewport={"width": 1280, "height": 1200})
    shots = [ARTIFACTS / f"explorer-{what}-{scheme}.png" for what in ("panel", "in-page", "page")]
    try:
        tab = context.new_page()
        tab.goto(book_url + page)
        tab.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        assert tab.locator("html").get_attribute("data-theme") == scheme
        panel = tab.locator(".jx-panel").first
        background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
        assert (_luminance(background) < 0.5) == (scheme == "dark"), f"{scheme} mode panel background {background}"
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=shots[2], full_page=True)  # from the top, before scrolling
        panel.evaluate("el => el.scrollIntoView({block: 'center'})")
        tab.screenshot(path=shots[1])
        panel.screenshot(path=shots[0])
    finally:
        context.close()
    assert not external
    small = [s.name for s in shots if s.stat().st_size < 10_000]
    assert not small, f"suspiciously small screenshots: {small}"
