"""Keep every page of the book self-contained: nothing is fetched from outside the book.

Jupyter Book 1 always loads sphinx-thebe, even with ``launch_buttons: thebe: false``.
sphinx-thebe then adds its loader (``sphinx-thebe.js``) and, twice, an inline script
declaring ``const THEBE_JS_URL`` (an unpkg.com address); the second declaration is a
console error in every browser. With thebe off none of it is used, so it is removed.

myst-nb also embeds the executed notebook's ipywidgets state (random model ids and
base64 images) in each page. The book shows the explorer's static panel instead of
the widget, so the state is dead weight that changes on every build; it is removed too.

The launch buttons (Binder, Colab, JupyterHub) stay: they are plain links, and nothing
is loaded from those hosts until a reader clicks one. A JupyterHub address on
``example.org`` is a placeholder, and its tooltip says so.

Both themes ship a Jinja template (``webpack-macros.html``, ``sbt-webpack-macros.html``)
in their static folder, so Sphinx copies it into ``_build/html/_static``. It is not a
page: opened in a browser it requests URLs such as ``{{ pathto(...) }}``. It is
deleted from the output, so that every ``.html`` file in ``_build/html`` is a real page.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
THEME_TEMPLATES = ("webpack-macros.html", "sbt-webpack-macros.html")
PLACEHOLDER_HUB = ("Launch on JupyterHub (placeholder address: set launch_buttons.jupyterhub_url "
                   "in _config.yml to your hub)")


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


def _label_placeholder_hub(app, pagename, templatename, context, doctree):
    for group in context.get("header_buttons") or []:
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            host = urlsplit(button.get("url", "")).hostname or ""
            if button.get("text") == "JupyterHub" and (host == "example.org" or host.endswith(".example.org")):
                button["tooltip"] = PLACEHOLDER_HUB


def _remove_theme_templates(app, exception):
    if exception is None and app.builder.format == "html":
        for name in THEME_TEMPLATES:
            (Path(app.outdir) / "_static" / name).unlink(missing_ok=True)


def setup(app):
    # After myst-nb (priority 500), sphinx-thebe and sphinx-book-theme's launch buttons.
    app.connect("html-page-context", _drop_scripts, priority=900)
    app.connect("html-page-context", _label_placeholder_hub, priority=900)
    app.connect("build-finished", _remove_theme_templates)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
