"""Seconds per phase of a job, synchronised on CUDA: where a training stage's time went.

A :class:`PhaseClock` records laps (``lap(name)``: the seconds since the previous lap). The set-up
of a stage prints them in order (``str``); a training loop sums them per kind of work
(:meth:`PhaseClock.totals`), which the stage writes to its metadata and logs as one
:func:`stylizednerf.benchmarks.time_split_line` for the report's benchmark table. CUDA work is
asynchronous, so each lap first waits for the device: laps are taken at phase boundaries only,
never per step.
"""

import time

import torch


class PhaseClock:
    def __init__(self):
        self.laps: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.laps.append((name, now - self.last))
        self.last = now

    def totals(self) -> dict[str, float]:
        """Seconds per lap name, summed, in order of first appearance."""
        out: dict[str, float] = {}
        for name, seconds in self.laps:
            out[name] = out.get(name, 0.0) + seconds
        return {name: round(seconds, 3) for name, seconds in out.items()}

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.laps)
