"""BENCHMARKS.md rows from bench/stylize.py results: ``python bench/stylize_table.py BENCH.json ...``.

One row per style x row of each ``bench.json`` (``gt``, ``adain``, every variant and its
``decoder_*`` row, ARF), in the layout of BENCHMARKS.md's issue-14 tables: style retained, style
and content loss, warped RMSE / LPIPS at each gap as a ratio to per-frame AdaIN of the same run
(the median-depth warp's ratio in brackets), the fit of the 2D targets (mimic PSNR), ``stylize`` +
``render`` seconds (training seconds and, where recorded, the time split) and render FPS. The
per-frame AdaIN row shows absolute values, as the ratios' denominators. Every number is read from
the files; nothing is computed but the ratios.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

GAPS = ("1", "7")


def _ratio(value, reference) -> float | None:
    return None if value is None or not reference else value / reference


def _fmt(value, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def consistency_cells(row: dict, adain: dict) -> list[str]:
    """RMSE and LPIPS per gap: 'Rx (Mx)' (expected-depth and median-depth ratios to AdaIN)."""
    cells = []
    for gap in GAPS:
        mine, ref = row.get("consistency", {}).get(gap, {}), adain.get("consistency", {}).get(gap, {})
        for metric in ("rmse", "lpips"):
            if row is adain:
                cells.append(_fmt(mine.get(metric), 4))
                continue
            ratio = _ratio(mine.get(metric), ref.get(metric))
            median = _ratio(mine.get(f"median_{metric}"), ref.get(f"median_{metric}"))
            cell = "" if ratio is None else f"{ratio:.2f}x"
            cells.append(cell + (f" ({median:.2f}x)" if median is not None else ""))
    return cells


def rows_of(bench: dict) -> list[list[str]]:
    """Table rows (lists of cells) of one bench.json."""
    out = []
    for style, entry in bench["styles"].items():
        adain = entry.get("adain", {})
        for name, row in entry.items():
            if not isinstance(row, dict) or "consistency" not in row:
                continue
            time = ""
            if row.get("total_seconds") is not None:
                time = f"{row['total_seconds']:.0f} ({row.get('training_seconds') or 0:.0f} training)"
                split = row.get("phase_seconds")
                if split:
                    time += "; " + ", ".join(f"{k} {v:.0f}" for k, v in split.items())
            out.append([
                style, name, _fmt(row.get("style_retained")), _fmt(row.get("style_loss"), 3), _fmt(row.get("content_loss"), 3),
                *consistency_cells(row, adain), _fmt(row.get("fit", {}).get("mimic_psnr")), time,
                _fmt(row.get("render_fps"), 1),
            ])
    return out


HEADER = ["style", "row", "style retained", "style loss", "content loss",
          *[f"{m} gap {g}" for g in GAPS for m in ("RMSE", "LPIPS")],
          "mimic PSNR (dB)", "stylize + render s", "render FPS"]


def to_markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", nargs="+", help="bench.json files of bench/stylize.py")
    args = parser.parse_args(argv)
    rows = []
    for path in args.bench:
        try:
            rows += rows_of(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError) as error:
            raise SystemExit(f"error: {path}: not a bench/stylize.py result ({error})") from error
    print(to_markdown(rows), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
