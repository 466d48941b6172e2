"""Progress of long loops: a tqdm bar on a terminal, plain lines in a log file.

Under Snakemake a stage's stdout and stderr go to its log file (``results/logs/...``). There,
tqdm's carriage-return redraws pile up into one multi-megabyte line that ``tail -f``, ``less``
and editors cannot follow. So when stderr is not a terminal, :func:`progress_bar` gives a
:class:`LineProgress` instead: one plain line at every tenth of the work, at least one every
:data:`LINE_SECONDS` in between (a long job never looks stuck), and a last line when it ends.
Every training and rendering loop gets its progress from here, so the rule lives in one place.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

LINE_SECONDS = 30.0  # a log line at least this often, whatever the pace
LINE_FRACTIONS = 10  # and one at every 1/LINE_FRACTIONS of the total
# the bar itself is left out: block characters say nothing that the percentage does not
LINE_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def progress_bar(iterable=None, *, total: int | None = None, initial: int = 0, desc: str = "",
                 unit: str = "it", disable: bool = False):
    """A progress bar over ``iterable`` (or updated by hand up to ``total``), with the tqdm calls
    the loops use: iteration, ``update``, ``set_postfix``, ``close`` and ``with``.

    A tqdm bar when stderr is a terminal (or when ``disable``, where tqdm does nothing), plain
    lines otherwise. stderr is looked up at each call, so a redirected or captured stream counts."""
    stream = sys.stderr
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if disable or _is_terminal(stream):
        return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, disable=disable,
                    file=stream, dynamic_ncols=True, mininterval=0.5)
    return LineProgress(iterable, total=total, initial=initial, desc=desc, unit=unit, stream=stream)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LineProgress:
    """Progress as plain lines (see the module docstring); the text is tqdm's, without the bar."""

    def __init__(self, iterable=None, *, total: int | None, initial: int, desc: str, unit: str, stream):
        self.iterable = iterable
        self.total = total
        self.n = initial
        self.initial = initial
        self.desc = desc
        self.unit = unit
        self.stream = stream
        self.postfix = ""
        self.start = time.monotonic()
        self.last_time = self.start
        self.last_printed = None  # (n, postfix) of the last line: the closing line skips a repeat
        self.last_fraction = self._fraction()
        self.closed = False

    def _fraction(self) -> int:
        return self.n * LINE_FRACTIONS // self.total if self.total else 0

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __len__(self):
        return self.total

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        fraction = self._fraction()
        if fraction > self.last_fraction or now - self.last_time >= LINE_SECONDS:
            self.last_fraction = fraction
            self._write_line(now)

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        """Shown on the next line (a line of its own would double the log for nothing)."""
        values = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.last_printed != (self.n, self.postfix):  # the end, with the final losses
            self._write_line(time.monotonic())

    def _write_line(self, now: float) -> None:
        elapsed = now - self.start
        text = tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, unit=self.unit,
                                 postfix=self.postfix or None, initial=self.initial,
                                 bar_format=LINE_FORMAT if self.total else None)
        print(text, file=self.stream, flush=True)
        self.last_time = now
        self.last_printed = (self.n, self.postfix)
