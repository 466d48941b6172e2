"""When decoder pre-training has stopped improving: the plateau rule (``decoder.stop: plateau``).

The training loss is logged every ``log_every`` iterations as the mean over that interval. Let
S(t) be the mean of the logged losses over the last ``window`` iterations, (t - window, t]. The
plateau is the first logged iteration t >= 2 * window with

    S(t) > (1 - tolerance) * S(t - window),

i.e. the smoothed loss fell by less than ``tolerance`` (relative) over the last window. Two whole
windows of means, not single logged values, are compared, so batch-to-batch noise (a few hard
styles in one interval) averages out before it can stop training, and a curve still falling by
more than ``tolerance`` per window never stops. This is the definition ``bench/decoder.py``
measured (window 1000, tolerance 1 %: 13,400 iterations on fern x 15 styles, BENCHMARKS.md
issue 5); the rule is applied to the same logged history that ``decoder_metrics.json`` keeps, so a
resumed run decides as the uninterrupted one would.
"""

from __future__ import annotations


def smoothed_loss(history: list[dict], t: int, window: int) -> float | None:
    """Mean logged loss over iterations (t - window, t]; None when no entry falls in it."""
    values = [h["loss"] for h in history if t - window < h["iteration"] <= t]
    return sum(values) / len(values) if values else None


def plateau_at(history: list[dict], index: int, window: int, tolerance: float) -> dict | None:
    """The plateau test at logged entry ``index``: a dict (iteration, smoothed losses, relative
    improvement) when it holds there, else None."""
    t = history[index]["iteration"]
    if t < 2 * window:
        return None
    first = index  # only the entries in (t - 2 window, t] matter: a check costs O(window / log_every)
    while first > 0 and history[first - 1]["iteration"] > t - 2 * window:
        first -= 1
    recent = history[first: index + 1]
    now = smoothed_loss(recent, t, window)
    before = smoothed_loss(recent, t - window, window)
    if now is None or before is None or before <= 0:
        return None
    improvement = (before - now) / before
    if improvement >= tolerance:
        return None
    return {"iteration": int(t), "seconds": history[index].get("seconds"), "smoothed_loss": now,
            "smoothed_loss_window_before": before, "relative_improvement": improvement,
            "window": window, "tolerance": tolerance}


def find_plateau(history: list[dict], window: int, tolerance: float) -> dict | None:
    """The first logged entry of ``history`` ({iteration, loss, ...}, by iteration) that is on the
    plateau, or None (see the module docstring)."""
    for index in range(len(history)):
        found = plateau_at(history, index, window, tolerance)
        if found is not None:
            return found
    return None


def describe(window: int, tolerance: float) -> str:
    return (f"mean logged loss over the last {window} iterations fell by less than {tolerance:.2%} "
            f"against the {window} before")
