"""Per-job time and memory of a run: ``python -m stylizednerf benchmark-table``.

    python -m stylizednerf benchmark-table --out results/report/benchmarks \
        --job RULE JOB BENCHMARK.tsv LOG [--job ...] | --jobs FILE  [--root PREFIX]

Every rule has a ``benchmark:`` file, ``results/benchmarks/<rule>/<wildcards>.tsv`` (Snakemake's
format: ``s`` wall seconds, ``max_rss`` MB, ``cpu_time`` s, ``mean_load`` ...), and every stage that
ran on CUDA ends its log with one line (:func:`gpu_peak_line`, written at exit by
:mod:`stylizednerf.device`) giving ``torch.cuda.max_memory_allocated``/``max_memory_reserved`` and
the job's declared ``gpu_mem_mb``. A stage that splits its own time (``stylize``) also logs one
:func:`time_split_line` (its training seconds per kind of work). This stage joins them per job
into ``<out>.csv`` and ``<out>.md``; every number in them is read from those files (empty where a
file has none, e.g. the GPU columns of a CPU run).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from pathlib import Path

GPU_LINE = re.compile(r"^gpu peak memory: (?P<allocated>\d+) MB allocated, (?P<reserved>\d+) MB reserved "
                      r"on (?P<device>\S+) \(declared gpu_mem_mb: (?P<declared>\d+|none)\)\s*$")
TIME_SPLIT_LINE = re.compile(r"^(?P<stage>[\w-]+) time: (?P<split>.+?)\s*$")
COLUMNS = ["rule", "job", "seconds", "max_rss_mb", "cpu_seconds", "mean_load", "gpu_peak_allocated_mb",
           "gpu_peak_reserved_mb", "gpu_mem_mb_declared", "gpu_device", "time_split"]


def gpu_peak_line(allocated_bytes: int, reserved_bytes: int, device: str, declared_mb: int | None) -> str:
    """The log line :func:`read_gpu_peak` reads back."""
    return (f"gpu peak memory: {allocated_bytes // 2 ** 20} MB allocated, {reserved_bytes // 2 ** 20} MB reserved "
            f"on {device} (declared gpu_mem_mb: {declared_mb if declared_mb else 'none'})")


def time_split_line(stage: str, seconds: dict[str, float]) -> str:
    """The log line :func:`read_time_split` reads back: ``<stage> time: <part> <s> s, ...``."""
    return f"{stage} time: " + ", ".join(f"{part} {value:.1f} s" for part, value in seconds.items())


def _last_match(path, pattern: re.Pattern) -> re.Match | None:
    """The last line of a job's log that ``pattern`` matches (None: no such line, or no log)."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    return next((m for m in map(pattern.match, (line.strip() for line in reversed(lines))) if m), None)


def read_time_split(path) -> str | None:
    """The parts of the last :func:`time_split_line` of a job's log (None when it has none)."""
    match = _last_match(path, TIME_SPLIT_LINE)
    return match["split"] if match else None


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value


def read_benchmark(path) -> dict:
    """The last row of a Snakemake benchmark TSV (one row per repeat; we run each job once)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        raise SystemExit(f"error: {path}: no benchmark row")
    row = rows[-1]
    return {"seconds": _number(row.get("s")), "max_rss_mb": _number(row.get("max_rss")),
            "cpu_seconds": _number(row.get("cpu_time")), "mean_load": _number(row.get("mean_load"))}


def read_gpu_peak(path) -> dict:
    """The last GPU peak line of a job's log (empty values when it has none: a CPU job)."""
    match = _last_match(path, GPU_LINE)
    if match is None:
        return {"gpu_peak_allocated_mb": None, "gpu_peak_reserved_mb": None, "gpu_mem_mb_declared": None,
                "gpu_device": None}
    declared = match["declared"]
    return {"gpu_peak_allocated_mb": int(match["allocated"]), "gpu_peak_reserved_mb": int(match["reserved"]),
            "gpu_mem_mb_declared": None if declared == "none" else int(declared), "gpu_device": match["device"]}


def table_rows(jobs) -> list[dict]:
    """One row per (rule, job, benchmark tsv, log)."""
    return [{"rule": rule, "job": job, **read_benchmark(tsv), **read_gpu_peak(log), "time_split": read_time_split(log)}
            for rule, job, tsv, log in jobs]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def to_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    return out.getvalue()


def to_markdown(rows) -> str:
    head = ["rule", "job", "wall s", "max RSS MB", "CPU s", "mean CPU %", "GPU peak allocated MB",
            "GPU peak reserved MB", "declared gpu_mem_mb", "device", "where the training time went"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k in COLUMNS) + " |")
    total = sum(row["seconds"] or 0 for row in rows)
    lines += ["", f"{len(rows)} jobs, {total:.0f} s of job wall time in all (jobs that ran side by side count "
              "each; Snakemake's benchmark files, and the GPU peak line and time split at the end of each job's log)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from stylizednerf.fileio import atomic_write_text
    from stylizednerf.table_page import markdown_to_html

    parser = argparse.ArgumentParser(prog="python -m stylizednerf benchmark-table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", nargs=4, action="append", default=[], metavar=("RULE", "JOB", "TSV", "LOG"))
    parser.add_argument("--jobs", default=None, help="a file of jobs, one per line: RULE JOB TSV LOG, tab-separated")
    parser.add_argument("--root", default="", help="prefix of every TSV and LOG path (the folder a storage "
                        "plugin keeps its local copies in; default: none)")
    parser.add_argument("--out", required=True, help="output prefix: <out>.csv and <out>.md")
    args = parser.parse_args(argv)
    if args.jobs:
        try:
            text = Path(args.jobs).read_text()
        except OSError as error:
            raise SystemExit(f"error: {args.jobs}: cannot read the job list ({error.strerror})") from error
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("\t")
            if len(fields) != 4:
                raise SystemExit(f"error: {args.jobs}:{number}: {len(fields)} tab-separated fields, want 4")
            args.job.append(fields)
    args.job = [(rule, job, args.root + tsv, args.root + log) for rule, job, tsv, log in args.job]
    for _, _, tsv, _ in args.job:
        if not Path(tsv).is_file():
            raise SystemExit(f"error: {tsv}: benchmark file does not exist")
    rows = table_rows(args.job)
    atomic_write_text(f"{args.out}.csv", to_csv(rows))
    atomic_write_text(f"{args.out}.md", to_markdown(rows))
    # the report shows HTML results in its page (CSV and Markdown only as downloads)
    atomic_write_text(f"{args.out}.html", markdown_to_html(to_markdown(rows), "Per-job time and memory"))
    print(f"benchmark-table: {len(rows)} jobs -> {args.out}.csv, {args.out}.md, {args.out}.html")
    return 0
