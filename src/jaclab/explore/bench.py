"""How long one slider move takes in the Python explorer: recompute, redraw, encode the PNG."""

from __future__ import annotations

import statistics
import time

from .widget import explore


def bench_python_update(K: int = 8, n: int = 50) -> float:
    """Median wall time, in milliseconds, of one logit-slider change at K classes.

    Setting ``slider.value`` from Python runs the same observer a drag in the browser
    runs (everything but the websocket), synchronously, so the time around the
    assignment is the whole update.
    """
    ex = explore(K=K)
    times = []
    for i in range(n + 3):  # the first 3 warm caches (fonts, mathtext) and are dropped
        s = ex.sliders[i % K]
        value = 1.0 if s.value != 1.0 else -1.0
        t0 = time.perf_counter()
        s.value = value
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[3:])
