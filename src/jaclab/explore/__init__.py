"""The slider explorer: :func:`explore` returns an :class:`Explorer`.

In JupyterLab it is an ipywidgets panel whose matplotlib figure is updated in place;
in the built book it is a static HTML panel (``panel.js``, inlined) that recomputes
σ, J, the eigenvalues of J and the VJP in the browser.

Modules: ``state`` (the numbers, from jaclab), ``figure`` (matplotlib, Agg → PNG),
``widget`` (ipywidgets), ``panel`` (the static HTML), ``bench`` (update timing).
"""

from .bench import bench_python_update
from .panel import panel_html
from .widget import Explorer, explore

# ``jaclab.explore`` is the function (it shadows this package's name in jaclab), so the
# timing helper also hangs off it: jaclab.explore.bench_python_update(K=8, n=50).
explore.bench_python_update = bench_python_update

__all__ = ["explore", "Explorer", "bench_python_update", "panel_html"]
