"""Stage ``report``: paper-style tables and figures from the eval JSONs of stage ``evaluate``.

    python -m stylizednerf report --evals results/*/*/eval/*.json \
        [--fit METHOD SCENE STYLE results/SCENE/STYLE/stylize/metadata.json ...] \
        [--timing METHOD SCENE STYLE TRAIN_METADATA RENDER_METADATA ...] --out results/report --settings JSON

Writes into ``--out``:

* ``table_mean.{csv,md,tex}``: rows = methods (gt, adain, stylizednerf, sequential,
  decoder_mutual, decoder_sequential, then any other), columns = short-range LPIPS / RMSE,
  long-range LPIPS / RMSE (smallest and largest gap evaluated), style loss, style retained,
  content loss, mimic PSNR, train s, render FPS; each the mean over all scenes x styles evaluated.

  *Style retained* (METHOD.md 7) = (S_gt - S_method) / (S_gt - S_adain), S the style loss of the
  same scene x style: 0 = no more style than the unstylized NeRF, 1 = as much as per-frame AdaIN.
  Where that scene x style has no gt or no adain eval, or AdaIN's style loss is not below gt's (no
  scale to read the ratio on: an undertrained decoder), its cell is empty and the table's note says
  so (the mean table averages the scene x styles that have a value).
  *Mimic PSNR* (dB): how closely the stylized NeRF fits its 2D decoder's stylizations at the end of
  training (L_mimic), from the ``"fit": {"mimic_psnr": ...}`` entry of the stylize job's
  ``metadata.json`` given with ``--fit``; empty for other rows and where the entry is absent.
  *Train s* and *render FPS*: a 3D method's cost per style, the ``seconds`` of its training job's
  ``metadata.json`` and the ``stats.fps`` of its render job's, given with ``--timing`` (StylizedNeRF,
  sequential and ARF rows); empty for the others.
* ``table_<scene>.{csv,md,tex}``: the same per scene (mean over its styles).
* ``per_style/<scene>_<style>.{csv,md,tex}``: the same for one scene x style (the numbers the means
  are made of; a painting the method fails on shows there, not in a mean).
* ``table_mean_median_warp.{csv,md,tex}``, ``table_<scene>_median_warp.{csv,md,tex}``: the
  short / long-range LPIPS and RMSE again, warped with the NeRF's median depth instead of its
  expected depth (the eval JSONs' ``median_*`` keys, evaluate ``--median-depth``): the expected
  depth favours a stylization that attaches colour to it (``stylize.shading: surface``), the median
  depth is a warp no stylization fits by construction. Empty cells where an eval has no such keys.
* ``grid_<scene>_<style>.png``: the style image, then frames along the path for each method.
* ``error_vs_gap.png``: warped LPIPS and RMSE against frame gap, per method (mean over scenes x styles).
* ``error_maps_<scene>_<style>.png``: per method and gap, |warp(frame i) - frame j| inside the mask.
* ``report.json``: the list of files, the inputs and metadata.

Every number comes from an eval JSON, except the mimic PSNR, train s and render FPS (from the
stylize, ARF and render jobs' metadata); the
figures also read the frames and error maps those JSONs point to.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

import stylizednerf  # noqa: F401
from stylizednerf.fileio import atomic_path, atomic_write_json, atomic_write_text
from stylizednerf.provenance import metadata
from stylizednerf.settings import ReportSettings
from stylizednerf.table_page import markdown_to_html

METHOD_ORDER = ["gt", "adain", "stylizednerf", "sequential", "decoder_mutual", "decoder_sequential", "arf"]
METHOD_LABELS = {"gt": "NeRF (no style)", "adain": "AdaIN per frame", "stylizednerf": "StylizedNeRF (ours)",
                 "sequential": "StylizedNeRF sequential", "decoder_mutual": "2D decoder after mutual learning",
                 "decoder_sequential": "2D decoder after sequential learning", "arf": "ARF (NNFM, baseline)"}
COLUMNS = ["short LPIPS", "short RMSE", "long LPIPS", "long RMSE", "style loss", "style retained", "content loss",
           "mimic PSNR", "train s", "render FPS"]
# the 3D methods' cost per style: their training job's seconds and their path's rendering speed
TIMING_COLUMNS = ("train s", "render FPS")
# the consistency columns under the median-depth warp (the eval JSONs' median_* keys)
MEDIAN_COLUMNS = ["short LPIPS", "short RMSE", "long LPIPS", "long RMSE"]
MEDIAN_TITLE = "Consistency under the median-depth warp"
MEDIAN_NOTE = ("frames warped with the NeRF's median depth (where half of each ray's mass is reached) instead of its "
               "expected depth: the expected-depth warp of the main table favours a stylization that attaches colour "
               "to the expected depth, the median-depth warp is a check independent of it")
DEFAULTS = ReportSettings().to_dict()  # the schema's report section + seed, device


def load_evals(paths) -> list[dict]:
    evals = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise SystemExit(f"error: {path}: cannot read eval JSON ({error})") from error
        for key in ("method", "per_gap", "gaps"):
            if key not in data:
                raise SystemExit(f"error: {path}: not an eval JSON (missing '{key}')")
        data["_path"] = str(path)
        data["scene"] = data.get("scene") or "scene"
        data["style"] = data.get("style") or "style"
        evals.append(data)
    if not evals:
        raise SystemExit("error: --evals: no eval JSON given")
    return evals


def style_retained(s_method, s_gt, s_adain) -> float | None:
    """(S_gt - S_method) / (S_gt - S_adain): 0 = the unstylized NeRF's style loss, 1 = per-frame AdaIN's.

    None when a loss is missing (None or NaN) or when per-frame AdaIN is not closer to the style
    than the unstylized frames (S_adain >= S_gt): then the references span no scale to read
    against, and a ratio would call a method further from the style than both "more stylized"."""
    values = (s_method, s_gt, s_adain)
    if any(v is None or math.isnan(v) for v in values) or s_adain >= s_gt:
        return None
    return (s_gt - s_method) / (s_gt - s_adain)


def reference_losses(evals) -> dict:
    """{(scene, style): {"gt": S or None, "adain": S or None}} from the reference rows."""
    refs = {}
    for ev in evals:
        entry = refs.setdefault((ev["scene"], ev["style"]), {"gt": None, "adain": None})
        if ev["method"] in entry:
            entry[ev["method"]] = ev.get("style_loss")
    return refs


def missing_references(evals) -> list[str]:
    """'scene/style (gt, adain)' for each scene x style lacking a reference row (or its style loss)."""
    lines = []
    for (scene, style), entry in sorted(reference_losses(evals).items()):
        absent = [m for m in ("gt", "adain") if entry[m] is None or math.isnan(entry[m])]
        if absent:
            lines.append(f"{scene}/{style} ({', '.join(absent)})")
    return lines


def inverted_references(evals) -> list[str]:
    """'scene/style' where per-frame AdaIN's style loss is not below the unstylized NeRF's."""
    lines = []
    for (scene, style), entry in sorted(reference_losses(evals).items()):
        s_gt, s_adain = entry["gt"], entry["adain"]
        if s_gt is not None and s_adain is not None and s_adain >= s_gt:
            lines.append(f"{scene}/{style} (adain {s_adain:.4g} >= gt {s_gt:.4g})")
    return lines


def _read_metadata(path, what: str = "metadata") -> dict:
    """A job's metadata.json ({} when it is not an object); a one-line error when unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: {path}: cannot read {what} ({error})") from error
    return data if isinstance(data, dict) else {}


def _number(value) -> float | None:
    """``value`` as a float when it is a real number (not a bool, not NaN), else None."""
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    return float(value) if valid else None


def load_fits(entries) -> dict:
    """{(scene, style, method): mimic PSNR in dB, or None} from ``--fit METHOD SCENE STYLE metadata.json``.

    None where the metadata has no ``fit.mimic_psnr`` (stylize outputs written before it existed)."""
    fits = {}
    for method, scene, style, path in entries or []:
        fit = _read_metadata(path, "stylize metadata").get("fit")
        fits[(scene, style, method)] = _number(fit.get("mimic_psnr")) if isinstance(fit, dict) else None
    return fits


def missing_fits(evals, fits: dict) -> list[str]:
    """'scene/style method' for each given row whose stylize job recorded no mimic PSNR."""
    present = {(ev["scene"], ev["style"], ev["method"]) for ev in evals}
    return [f"{scene}/{style} {method}" for (scene, style, method), psnr in sorted(fits.items())
            if psnr is None and (scene, style, method) in present]


def load_timings(entries) -> dict:
    """{(scene, style, method): {"train s", "render FPS"}} from ``--timing METHOD SCENE STYLE TRAIN RENDER``:
    the training job's metadata.json (``seconds``: its training time for the style) and the render
    job's (``stats.fps``: frames per second along the path). Missing values are None."""
    timings = {}
    for method, scene, style, train, render in entries or []:
        stats = _read_metadata(render).get("stats")
        timings[(scene, style, method)] = {
            "train s": _number(_read_metadata(train).get("seconds")),
            "render FPS": _number(stats.get("fps")) if isinstance(stats, dict) else None}
    return timings


def row_values(ev: dict, refs: dict | None = None, fits: dict | None = None, timings: dict | None = None) -> dict:
    short, long = str(ev["short_gap"]), str(ev["long_gap"])
    get = lambda gap, key: ev["per_gap"].get(gap, {}).get(key)  # noqa: E731
    ref = (refs or {}).get((ev["scene"], ev["style"]), {})
    return {"short LPIPS": get(short, "lpips"), "short RMSE": get(short, "rmse"),
            "long LPIPS": get(long, "lpips"), "long RMSE": get(long, "rmse"),
            "style loss": ev.get("style_loss"),
            "style retained": style_retained(ev.get("style_loss"), ref.get("gt"), ref.get("adain")),
            "content loss": ev.get("content_loss"),
            "mimic PSNR": (fits or {}).get((ev["scene"], ev["style"], ev["method"])),
            **{column: (timings or {}).get((ev["scene"], ev["style"], ev["method"]), {}).get(column)
               for column in TIMING_COLUMNS}}


def median_row_values(ev: dict) -> dict:
    """The consistency columns of ``ev`` under the median-depth warp (None where it has none)."""
    short, long = str(ev["short_gap"]), str(ev["long_gap"])
    get = lambda gap, key: ev["per_gap"].get(gap, {}).get(f"median_{key}")  # noqa: E731
    return {"short LPIPS": get(short, "lpips"), "short RMSE": get(short, "rmse"),
            "long LPIPS": get(long, "lpips"), "long RMSE": get(long, "rmse")}


def has_median_warp(ev: dict) -> bool:
    return any("median_rmse" in summary for summary in ev["per_gap"].values())


def median_table(evals) -> "pandas.DataFrame":
    """Mean of the median-warp columns per method; ``runs`` counts the evals that have them."""
    import pandas as pd

    records = [{"method": ev["method"], **median_row_values(ev)} for ev in evals if has_median_warp(ev)]
    frame = pd.DataFrame.from_records(records, columns=["method", *MEDIAN_COLUMNS])
    frame[MEDIAN_COLUMNS] = frame[MEDIAN_COLUMNS].astype(float)
    means = frame.groupby("method", sort=False)[MEDIAN_COLUMNS].mean()
    counts = frame.groupby("method", sort=False).size().rename("runs")
    methods = [m for m in ordered_methods(evals) if m in set(frame["method"])]
    out = means.join(counts).reindex(methods)
    out.index.name = "method"
    return out


def median_notes(evals) -> str:
    notes = [MEDIAN_NOTE, gap_note(evals)]
    missing = sorted(f"{ev['scene']}/{ev['style']} {ev['method']}" for ev in evals if not has_median_warp(ev))
    if missing:
        notes.append("not in the table (eval without the median-depth warp): " + "; ".join(missing))
    return "; ".join(notes)


def ordered_methods(evals) -> list[str]:
    present = {ev["method"] for ev in evals}
    return [m for m in METHOD_ORDER if m in present] + sorted(present - set(METHOD_ORDER))


def table(evals, fits: dict | None = None, timings: dict | None = None) -> "pandas.DataFrame":
    """Mean of each column per method over the given evals (NaN where no eval has a value)."""
    import pandas as pd

    refs = reference_losses(evals)
    records = [{"method": ev["method"], **row_values(ev, refs, fits, timings)} for ev in evals]
    frame = pd.DataFrame.from_records(records, columns=["method", *COLUMNS])
    frame[COLUMNS] = frame[COLUMNS].astype(float)  # None -> NaN: an empty cell
    means = frame.groupby("method", sort=False)[COLUMNS].mean()
    counts = frame.groupby("method", sort=False).size().rename("runs")
    out = means.join(counts).reindex(ordered_methods(evals))
    out.index.name = "method"
    return out


def gap_note(evals) -> str:
    shorts = sorted({ev["short_gap"] for ev in evals})
    longs = sorted({ev["long_gap"] for ev in evals})
    return f"short = frame gap {'/'.join(map(str, shorts))}, long = frame gap {'/'.join(map(str, longs))}"


def table_notes(evals, fits: dict | None = None) -> str:
    """What the columns mean, and which cells are empty for want of a reference row or fit record."""
    notes = [gap_note(evals), "lower is better except style retained (0 = no style, 1 = as much as per-frame "
             "AdaIN) and mimic PSNR (dB, the stylized NeRF against its 2D decoder; StylizedNeRF rows only)",
             "train s: the 3D method's training time per style (its job's metadata); render FPS: frames per second "
             "along the rendered path (on the device each job ran on; the demo's are CPU numbers)"]
    missing = missing_references(evals)
    if missing:
        notes.append("style retained empty where a reference row is missing: " + "; ".join(missing))
    inverted = inverted_references(evals)
    if inverted:
        notes.append("style retained empty where per-frame AdaIN's style loss is not below the unstylized "
                     "NeRF's (no scale to read it on): " + "; ".join(inverted))
    no_fit = missing_fits(evals, fits or {})
    if no_fit:
        notes.append("mimic PSNR empty where the stylize job recorded no fit: " + "; ".join(no_fit))
    return "; ".join(notes)


MAIN_TEX_HEAD = [r" & \multicolumn{2}{c}{short range} & \multicolumn{2}{c}{long range} & style & style & content"
                 r" & mimic & train & render \\",
                 r"method & LPIPS & RMSE & LPIPS & RMSE & loss & retained & loss & PSNR (dB) & s & FPS \\"]
MEDIAN_TEX_HEAD = [r" & \multicolumn{2}{c}{short range} & \multicolumn{2}{c}{long range} \\",
                   r"method & LPIPS & RMSE & LPIPS & RMSE \\"]


def write_table(df, stem: Path, title: str, note: str, banner: str = "", columns=COLUMNS,
                tex_head=MAIN_TEX_HEAD) -> list[Path]:
    """The table as CSV, Markdown, LaTeX and an HTML page of the Markdown (the Snakemake report
    shows that one: it offers CSV and Markdown only as downloads); ``banner`` (Markdown) goes above the Markdown table
    and into the LaTeX caption (e.g. the demo's smoke-test note). ``columns`` and ``tex_head``
    (the LaTeX header rows) default to the main table's."""
    def fmt(x, column):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return ""  # no value: an empty cell (the note says why)
        if column in TIMING_COLUMNS:
            return f"{x:.1f}"
        return f"{x:.2f}" if column == "mimic PSNR" else f"{x:.4f}"

    csv_path, md_path, tex_path = (stem.with_suffix(s) for s in (".csv", ".md", ".tex"))
    atomic_write_text(csv_path, df.to_csv(float_format="%.6g"))
    header = "| method | " + " | ".join(columns) + " | runs |"
    lines = [f"### {title}", "", *([banner.strip(), ""] if banner else []), note, "", header,
             "|" + "---|" * (len(columns) + 2)]
    for method, row in df.iterrows():
        lines.append(f"| {METHOD_LABELS.get(method, method)} | " + " | ".join(fmt(row[c], c) for c in columns)
                     + f" | {int(row['runs'])} |")
    atomic_write_text(md_path, "\n".join(lines) + "\n")
    html_path = stem.with_suffix(".html")
    atomic_write_text(html_path, markdown_to_html("\n".join(lines), title))
    escape = lambda s: s.replace("_", r"\_")  # noqa: E731
    tex = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule",
           *tex_head, r"\midrule"]
    for method, row in df.iterrows():
        tex.append(escape(METHOD_LABELS.get(method, method)) + " & " + " & ".join(fmt(row[c], c) for c in columns)
                   + r" \\")
    caption = escape(title) + ". " + (escape(banner.strip().replace("**", "")) + " " if banner else "") + escape(note)
    tex += [r"\bottomrule", r"\end{tabular}", r"\caption{" + caption + r".}",
            r"\end{table}"]
    atomic_write_text(tex_path, "\n".join(tex) + "\n")
    return [csv_path, md_path, tex_path, html_path]


def _save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _read_image(path) -> np.ndarray | None:
    from stylizednerf.images import ImageReadError, read_rgb

    try:
        return read_rgb(path)
    except (ImageReadError, TypeError):
        return None


SMOKE_TEST_NOTE = ("Smoke test: the generated demo scene with CPU-sized models and a few hundred steps; "
                   "these numbers show that the pipeline runs, they are not results")


def qualitative_grid(evals_of_pair, n_frames: int, path: Path, smoke_test: bool = False) -> Path:
    """Rows: one per method, its full name in a label column on the left; columns: frames along the
    path. The style image once, above the labels."""
    import textwrap

    import matplotlib.pyplot as plt

    methods = ordered_methods(evals_of_pair)
    by_method = {ev["method"]: ev for ev in evals_of_pair}
    style_path = next((ev.get("style_image") for ev in evals_of_pair if ev.get("style_image")), None)
    style = _read_image(style_path) if style_path else None
    rows = len(methods) + 1  # row 0: the style image and the frame names
    fig, axes = plt.subplots(rows, n_frames + 1, figsize=(1.8 * (n_frames + 1), 1.5 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [1.0] + [1.3] * n_frames})
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[0, 1:]:
        ax.axis("off")
    if style is not None:
        axes[0, 0].imshow(style)
        axes[0, 0].set_title("style", fontsize=8)
    else:
        axes[0, 0].axis("off")
    for r, method in enumerate(methods, start=1):
        ev = by_method[method]
        label = axes[r, 0]
        label.axis("off")
        label.text(1.0, 0.5, textwrap.fill(METHOD_LABELS.get(method, method), 18), ha="right", va="center",
                   fontsize=8, transform=label.transAxes)
        names = ev.get("frame_names") or []
        picks = [names[round(k)] for k in np.linspace(0, len(names) - 1, n_frames)] if names else []
        for c in range(n_frames):
            ax = axes[r, c + 1]
            image = _read_image(Path(ev["frames_dir"]) / picks[c]) if c < len(picks) else None
            if image is not None:
                ax.imshow(image)
            else:
                ax.axis("off")
            if r == 1 and c < len(picks):
                ax.set_title(Path(picks[c]).stem, fontsize=8)
    ev0 = evals_of_pair[0]
    title = f"{ev0['scene']} / {ev0['style']}"
    if smoke_test:
        title += "\n" + textwrap.fill(SMOKE_TEST_NOTE, 90)
    fig.suptitle(title, fontsize=9, color="firebrick" if smoke_test else "black")
    return _save_figure(fig, path)


def error_vs_gap(evals, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for method in ordered_methods(evals):
        sel = [ev for ev in evals if ev["method"] == method]
        gaps = sorted({int(g) for ev in sel for g in ev["per_gap"]})
        for ax, key in zip(axes, ("lpips", "rmse")):
            means = []
            for gap in gaps:
                values = [ev["per_gap"].get(str(gap), {}).get(key) for ev in sel]
                values = [v for v in values if v is not None and not math.isnan(v)]
                means.append(np.mean(values) if values else np.nan)
            ax.plot(gaps, means, marker="o", label=METHOD_LABELS.get(method, method))
    for ax, key in zip(axes, ("warped LPIPS", "warped RMSE")):
        ax.set_xlabel("frame gap")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle("consistency against frame gap (mean over scenes x styles)", fontsize=9)
    fig.tight_layout()
    return _save_figure(fig, path)


def error_map_figure(evals_of_pair, path: Path) -> Path | None:
    import matplotlib.pyplot as plt

    methods = [m for m in ordered_methods(evals_of_pair)]
    by_method = {ev["method"]: ev for ev in evals_of_pair}
    maps = {}
    for method in methods:
        source = by_method[method].get("error_maps")
        if source and Path(source).is_file():
            with np.load(source, allow_pickle=False) as data:
                maps[method] = {k: data[k] for k in data.files}
    if not maps:
        return None
    gaps = sorted({int(k[3:].split("_")[0]) for m in maps.values() for k in m})
    fig, axes = plt.subplots(len(gaps), len(maps), figsize=(2.4 * len(maps), 2.0 * len(gaps)), squeeze=False)
    for c, (method, m) in enumerate(maps.items()):
        for r, gap in enumerate(gaps):
            ax = axes[r, c]
            key = f"gap{gap}"
            if f"{key}_warped" in m:
                error = np.abs(m[f"{key}_warped"].astype(np.float32) - m[f"{key}_target"].astype(np.float32)).mean(-1)
                shown = np.ma.masked_where(~m[f"{key}_mask"].astype(bool), error)
                cmap = plt.get_cmap("magma").with_extremes(bad="0.6")
                ax.imshow(shown, cmap=cmap, vmin=0, vmax=0.3)
                i, j = m[f"{key}_pair"].tolist()
                ax.set_title(f"{METHOD_LABELS.get(method, method)}\nframes {i}->{j}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    ev0 = evals_of_pair[0]
    fig.suptitle(f"|warp(i) - j| inside the mask (grey: masked), {ev0['scene']} / {ev0['style']}", fontsize=8)
    return _save_figure(fig, path)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m stylizednerf report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evals", nargs="+", required=True, help="eval JSONs from stage evaluate")
    p.add_argument("--fit", nargs=4, action="append", default=[], metavar=("METHOD", "SCENE", "STYLE", "METADATA"),
                   help="the stylize job's metadata.json behind a method's row of SCENE x STYLE (its "
                        "fit.mimic_psnr is the mimic PSNR column); repeatable")
    p.add_argument("--timing", nargs=5, action="append", default=[],
                   metavar=("METHOD", "SCENE", "STYLE", "TRAIN_METADATA", "RENDER_METADATA"),
                   help="a 3D method's training and render metadata.json for SCENE x STYLE (the train s and "
                        "render FPS columns); repeatable")
    p.add_argument("--out", required=True, help="output folder (results/report)")
    p.add_argument("--smoke-test", action="append", default=[], metavar="SCENE",
                   help="a scene that is the generated demo: its tables and figures say they are a smoke test; "
                        "repeatable")
    p.add_argument("--settings", default="{}", help="JSON: the config's report section + seed, device")
    p.add_argument("--runtime", default="{}",
                   help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    settings = ReportSettings.parse(args.settings, args.runtime).to_dict()
    evals = load_evals(args.evals)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fits = load_fits(args.fit)
    timings = load_timings(args.timing)
    for line in missing_references(evals):
        print(f"note: style retained: no reference row for {line}", file=sys.stderr)
    for line in inverted_references(evals):
        print(f"note: style retained: per-frame AdaIN is not closer to the style than gt for {line}", file=sys.stderr)
    for line in missing_fits(evals, fits):
        print(f"note: mimic PSNR: no fit.mimic_psnr in the stylize metadata of {line}", file=sys.stderr)
    smoke = set(args.smoke_test)

    def banner(scenes) -> str:
        demo = sorted(smoke & set(scenes))
        return f"**{SMOKE_TEST_NOTE}** (scene {', '.join(demo)})." if demo else ""

    written = write_table(table(evals, fits, timings), out / "table_mean",
                          "Consistency, style and content: mean over scenes x styles",
                          table_notes(evals, fits), banner({ev["scene"] for ev in evals}))
    for scene in sorted({ev["scene"] for ev in evals}):
        sel = [ev for ev in evals if ev["scene"] == scene]
        written += write_table(table(sel, fits, timings), out / f"table_{scene}", f"Scene {scene}: mean over its styles",
                               table_notes(sel, fits), banner({scene}))
    for scene, style in sorted({(ev["scene"], ev["style"]) for ev in evals}):
        sel = [ev for ev in evals if ev["scene"] == scene and ev["style"] == style]
        written += write_table(table(sel, fits, timings), out / "per_style" / f"{scene}_{style}",
                               f"Scene {scene}, style {style}", table_notes(sel, fits), banner({scene}))
    # the same consistency numbers under the median-depth warp: a table of their own, so that the
    # main table stays readable
    written += write_table(median_table(evals), out / "table_mean_median_warp",
                           f"{MEDIAN_TITLE}: mean over scenes x styles", median_notes(evals),
                           banner({ev["scene"] for ev in evals}), MEDIAN_COLUMNS, MEDIAN_TEX_HEAD)
    for scene in sorted({ev["scene"] for ev in evals}):
        sel = [ev for ev in evals if ev["scene"] == scene]
        written += write_table(median_table(sel), out / f"table_{scene}_median_warp",
                               f"{MEDIAN_TITLE}, scene {scene}: mean over its styles", median_notes(sel),
                               banner({scene}), MEDIAN_COLUMNS, MEDIAN_TEX_HEAD)
    written.append(error_vs_gap(evals, out / "error_vs_gap.png"))
    for scene, style in sorted({(ev["scene"], ev["style"]) for ev in evals}):
        sel = [ev for ev in evals if ev["scene"] == scene and ev["style"] == style]
        written.append(qualitative_grid(sel, settings["grid_frames"], out / f"grid_{scene}_{style}.png", scene in smoke))
        figure = error_map_figure(sel, out / f"error_maps_{scene}_{style}.png")
        if figure is not None:
            written.append(figure)
    atomic_write_json(out / "report.json", {"files": [str(p) for p in written], "evals": args.evals,
                                            "fits": [dict(zip(("method", "scene", "style", "metadata"), entry))
                                                     for entry in args.fit],
                                            "metadata": metadata("report", config=settings, seed=settings["seed"])})
    print((out / "table_mean.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
