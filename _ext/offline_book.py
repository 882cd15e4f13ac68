"""Keep every page of the book self-contained: nothing is fetched from outside the book.

Jupyter Book 1 always loads sphinx-thebe, even with ``launch_buttons: thebe: false``.
sphinx-thebe then adds its loader (``sphinx-thebe.js``) and, twice, an inline script
declaring ``const THEBE_JS_URL`` (an unpkg.com address); the second declaration is a
console error in every browser. With thebe off none of it is used, so it is removed.

myst-nb also embeds the executed notebook's ipywidgets state (random model ids and
base64 images) in each page. The book shows the explorer's static panel instead of
the widget, so the state is dead weight that changes on every build; it is removed too.
"""

from __future__ import annotations

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _is_dropped(script) -> bool:
    attributes = getattr(script, "attributes", {}) or {}
    filename = str(getattr(script, "filename", "") or "")
    body = attributes.get("body", "") or ""
    return (
        attributes.get("type") == WIDGET_STATE
        or filename.endswith("sphinx-thebe.js")
        or "THEBE_JS_URL" in body
    )


def _drop_scripts(app, pagename, templatename, context, doctree):
    thebe_on = bool(app.config.html_theme_options.get("launch_buttons", {}).get("thebe"))
    scripts = context.get("script_files")
    if thebe_on or scripts is None:
        return
    scripts[:] = [s for s in scripts if not _is_dropped(s)]


def setup(app):
    # After myst-nb (priority 500) and sphinx-thebe have added their scripts.
    app.connect("html-page-context", _drop_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
