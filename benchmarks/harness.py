"""The measuring tools behind ``make bench``: a machine header, interleaved timing, peak memory,
and an offline Chromium page (Playwright) for timing JavaScript.

Nothing here knows about softmax; ``run.py`` says what is compared.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

MiB = 2**20


def machine_header() -> str:
    """One line: torch, threads, CPU, Python, and the load the machine was under."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"torch {torch.__version__} | intra-op threads: {torch.get_num_threads()} | "
        f"{cpu}, {os.cpu_count()} logical cores, {platform.machine()} | "
        f"Python {platform.python_version()} on {platform.system()} | load average {load:.2f}"
    )


def busy_warning() -> str | None:
    """A warning when other processes compete for the cores (the figures get noisy)."""
    if not hasattr(os, "getloadavg"):
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.75 * cores:
        return (
            f"WARNING: load average {load:.2f} on {cores} cores: other processes compete for the CPU. "
            f"Times are inflated, and most for code made of many small multi-threaded ops (each one waits "
            f"for its threads to be scheduled), so even the ratios are unreliable: re-run on an idle machine "
            f"(or with OMP_NUM_THREADS=1 for single-thread figures, which suffer less)."
        )
    return None


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    *,
    budget_s: float,
    min_rounds: int = 7,
    max_rounds: int = 400,
    warmup: int = 3,
) -> dict[str, float]:
    """Median wall time (seconds) of each function, measured in interleaved rounds.

    Every function is first called ``warmup`` times. Then each round calls every
    function once, in an order rotated from round to round, so that drift in the
    machine's speed (other processes, frequency, caches) falls on all sides alike.
    The number of rounds is chosen to fit ``budget_s``, within [min_rounds, max_rounds].
    """
    names = list(fns)
    start = time.perf_counter()
    for _ in range(warmup):
        for name in names:
            fns[name]()
    per_round = (time.perf_counter() - start) / warmup
    rounds = int(min(max_rounds, max(min_rounds, budget_s / max(per_round, 1e-9))))

    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                fn = fns[name]
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


@contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ start/stop log lines, which go straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes of tensor memory ``fn`` holds at once, beyond what existed before the call.

    Read from PyTorch's CPU allocator through ``torch.profiler(profile_memory=True)``: every
    allocation and free is an event with a signed size, so the running sum of the events in
    time order is the memory in use, and its maximum is the peak. The result of ``fn`` is
    still alive at the end, so it is included; the inputs were allocated before and are not.
    (On Linux this agrees with the process's peak-RSS delta to within a few hundred KiB;
    the 16 MiB float32 Jacobian of 64×256×256 shows up as 16 MiB.)
    """
    fn()  # one call outside the profile, so lazy one-time set-up is not counted
    return peak_memories({"fn": fn})["fn"]


def peak_memories(fns: dict[Hashable, Callable[[], object]]) -> dict[Hashable, int]:
    """:func:`peak_memory` of many functions, each called once, in one profiler session.

    Each call runs inside its own ``torch.profiler.record_function`` range, and its peak is
    the running sum of the allocation events inside that range; its result is freed after
    the range closes. The garbage collector runs once before the session and is off during
    it, so no object left over from an earlier call is freed inside a later range. (A full
    collection takes about 0.2 s once torch is loaded: one per session rather than one per
    function is what makes this faster than calling :func:`peak_memory` in a loop.)
    Call each function once beforehand, so lazy one-time set-up is not counted.
    """
    tags = {name: f"jaclab-bench-peak:{i}" for i, name in enumerate(fns)}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            for name, fn in fns.items():
                with record_function(tags[name]):
                    result = fn()
                del result
    finally:
        if gc_was_enabled:
            gc.enable()
    events = list(prof.profiler.kineto_results.events())
    memory = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    ranges = {e.name(): (e.start_ns(), e.start_ns() + e.duration_ns()) for e in events if e.name() in tags.values()}
    peaks = {}
    for name, tag in tags.items():
        start, end = ranges[tag]
        in_use = peak = 0
        for t, nbytes in memory:
            if start <= t <= end:
                in_use += nbytes
                peak = max(peak, in_use)
        peaks[name] = peak
    return peaks


# ---- an offline browser page, for timing JavaScript -------------------------------------

#: Debian's Chromium (``playwright install`` cannot download here); override with JACLAB_CHROMIUM.
CHROMIUM = os.environ.get("JACLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class Skipped(Exception):
    """A measurement that cannot run on this machine; the message says why."""


@contextmanager
def offline_page(path: Path) -> Iterator[tuple[object, list[str]]]:
    """Open the local HTML file ``path`` in headless Chromium; yield (page, blocked).

    Every request that is not a ``file:`` URL is aborted and its URL appended to
    ``blocked``, so the page runs exactly as it would offline. Raises :class:`Skipped`
    when Playwright or Chromium is missing or Chromium does not start.
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise Skipped("the Python package playwright is not installed (it is in requirements.txt)") from None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise Skipped(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set JACLAB_CHROMIUM)")
    blocked: list[str] = []

    def file_only(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as e:
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise Skipped(f"Chromium at {CHROMIUM} did not start: {first_line}") from None
        try:
            page = browser.new_page()
            page.route("**/*", file_only)
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield page, blocked
        finally:
            browser.close()
