"""The static panel: self-contained HTML (inline CSS and JS, no network) for pages without a kernel.

The JavaScript lives in ``panel.js`` and the styles in ``panel.css``, next to this
file; they are read with :mod:`importlib.resources` and inlined. The panel's
initial state travels as JSON in a ``<script type="application/json">``.
"""

from __future__ import annotations

import functools
import itertools
import json
from importlib import resources

from .state import panel_data

# Element ids come from a counter, not a random uuid, so a notebook executed twice
# produces byte-identical outputs (a fresh kernel starts at 1), and several panels
# on one page still get different ids.
_ids = itertools.count(1)


@functools.cache
def asset(name: str) -> str:
    """The text of a file shipped in this package (``panel.js`` or ``panel.css``)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def panel_html(z: list[float], temperature: float, g: list[float]) -> str:
    """One static panel showing the state (z, T, g); every call gets a new element id."""
    pid = f"jaclab-explore-{next(_ids)}"
    # "</" inside a <script> element would end it early; JSON allows the escape "<\/".
    data = json.dumps(panel_data(z, temperature, g), separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="jx-panel" id="{pid}" role="group" aria-label="Softmax Jacobian explorer">'
        f"<style>{asset('panel.css')}</style>"
        f'<script type="application/json" class="jx-data">{data}</script>'
        f"<script>{asset('panel.js')}</script>"
        "</div>"
    )
