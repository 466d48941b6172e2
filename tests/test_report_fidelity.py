"""Fidelity in every table (issue 14): style retained, the stylize jobs' mimic PSNR, and the rows of
the fine-tuned 2D decoders (rules decoder_frames, decoder_frames_sequential)."""

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import stylizednerf  # noqa: F401
from stylizednerf import __main__ as cli
from stylizednerf.metrics.report import style_retained
from stylizednerf.settings import schema
from conftest import run_snakemake

ROOT = Path(__file__).resolve().parents[1]


# ---- the formula --------------------------------------------------------------------------------

def test_style_retained_is_zero_at_gt_one_at_adain_and_linear_between():
    s_gt, s_adain = 2.5, 0.5
    assert style_retained(s_gt, s_gt, s_adain) == 0.0
    assert style_retained(s_adain, s_gt, s_adain) == 1.0
    assert style_retained(1.5, s_gt, s_adain) == pytest.approx(0.5)
    assert style_retained(0.25, s_gt, s_adain) == pytest.approx(1.125)  # more style than AdaIN: > 1
    assert style_retained(3.0, s_gt, s_adain) == pytest.approx(-0.25)  # further from the style than gt: < 0


@pytest.mark.parametrize("args", [(1.0, None, 0.5), (1.0, 2.0, None), (None, 2.0, 0.5), (1.0, math.nan, 0.5),
                                  (1.0, 2.0, 2.0), (1.0, 2.0, 2.5)])
def test_style_retained_is_none_without_both_references_or_a_scale_between_them(args):
    """Missing losses, tied references, or per-frame AdaIN further from the style than gt: no value."""
    assert style_retained(*args) is None


# ---- the report's columns from small fake eval JSONs ------------------------------------------

def _fake_eval(folder: Path, scene, style, method, style_loss, rng) -> Path:
    """An eval JSON as stage evaluate writes it, reduced to what the report reads (no frames)."""
    gap = lambda: {"rmse": float(rng.uniform(0.01, 0.1)), "lpips": float(rng.uniform(0.01, 0.1)),  # noqa: E731
                   "pairs": 3}
    data = {"method": method, "scene": scene, "style": style, "gaps": [1, 7], "short_gap": 1, "long_gap": 7,
            "per_gap": {"1": gap(), "7": gap()}, "style_loss": style_loss, "content_loss": float(rng.uniform(0, 1)),
            "frames_dir": str(folder / "none"), "frame_names": [], "style_image": None, "error_maps": None}
    path = folder / scene / style / f"{method}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _read_csv(path: Path) -> dict:
    with open(path) as f:
        return {row["method"]: row for row in csv.DictReader(f)}


def test_report_shows_style_retained_and_mimic_psnr(tmp_path):
    rng = np.random.default_rng(14)
    scene = "synth"
    losses = {  # style x method -> S; 'bare' has no AdaIN row, so no style retained there
        "waves": {"gt": 3.0, "adain": 1.0, "stylizednerf": float(rng.uniform(1, 3)),
                  "sequential": float(rng.uniform(1, 3)), "decoder_mutual": float(rng.uniform(1, 3))},
        "bare": {"gt": 2.0, "stylizednerf": float(rng.uniform(1, 3)), "decoder_mutual": float(rng.uniform(1, 3))},
    }
    evals = [_fake_eval(tmp_path / "evals", scene, style, method, s, rng)
             for style, rows in losses.items() for method, s in rows.items()]
    psnr = {style: float(rng.uniform(15, 35)) for style in losses}
    fits = []
    for style in losses:  # stylizednerf: with the fit record; sequential: an older output without it
        mutual = tmp_path / style / "stylize" / "metadata.json"
        mutual.parent.mkdir(parents=True)
        mutual.write_text(json.dumps({"stage": "stylize", "fit": {"mimic_psnr": psnr[style], "mimic_mse": 0.01}}))
        fits += ["--fit", "stylizednerf", scene, style, str(mutual)]
    old = tmp_path / "waves" / "stylize_sequential" / "metadata.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"stage": "stylize", "final": {"mimic": 0.02}}))
    fits += ["--fit", "sequential", scene, "waves", str(old)]

    out = tmp_path / "report"
    assert cli.main(["report", "--evals", *map(str, evals), *fits, "--out", str(out)]) == 0

    mean = _read_csv(out / "table_mean.csv")
    assert list(mean) == ["gt", "adain", "stylizednerf", "sequential", "decoder_mutual"]
    header = (out / "table_mean.csv").read_text().splitlines()[0].split(",")
    assert header[5:9] == ["style loss", "style retained", "content loss", "mimic PSNR"]
    waves = losses["waves"]
    expected = {m: (waves["gt"] - waves[m]) / (waves["gt"] - waves["adain"]) for m in waves}
    for method in ("gt", "adain", "stylizednerf", "sequential", "decoder_mutual"):
        # only 'waves' has both references: its ratio is the mean table's
        assert float(mean[method]["style retained"]) == pytest.approx(expected[method], rel=1e-5), method
        assert float(mean[method]["style loss"]) == pytest.approx(
            np.mean([rows[method] for rows in losses.values() if method in rows]), rel=1e-5)
    assert float(mean["stylizednerf"]["mimic PSNR"]) == pytest.approx(np.mean(list(psnr.values())), rel=1e-5)
    for method in ("gt", "adain", "sequential", "decoder_mutual"):
        assert mean[method]["mimic PSNR"] == "", method  # not a StylizedNeRF row, or no fit record

    markdown = (out / "table_mean.md").read_text()
    assert "| 2D decoder after mutual learning |" in markdown
    assert "synth/bare (adain)" in markdown  # the note names the scene x style without a reference
    assert "synth/waves sequential" in markdown  # and the stylize output without a fit record
    row = next(line for line in markdown.splitlines() if line.startswith("| StylizedNeRF (ours) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] == f"{expected['stylizednerf']:.4f}" and cells[8] == f"{np.mean(list(psnr.values())):.2f}"
    sequential = next(line for line in markdown.splitlines() if line.startswith("| StylizedNeRF sequential |"))
    assert [c.strip() for c in sequential.strip("|").split("|")][8] == ""  # an empty cell, not a crash
    tex = (out / "table_mean.tex").read_text()
    assert "retained" in tex and "PSNR (dB)" in tex and "2D decoder after mutual learning" in tex
    assert json.loads((out / "report.json").read_text())["fits"][0]["method"] == "stylizednerf"


def test_report_writes_each_scene_x_style_table_from_that_pairs_evals_only(tmp_path):
    """per_style/<scene>_<style>: the rows of one painting, not a mean over the scene's paintings."""
    rng = np.random.default_rng(15)
    losses = {"waves": {"gt": 3.0, "adain": 1.0, "stylizednerf": 1.5, "arf": 2.5},
              "dots": {"gt": 4.0, "adain": 2.0, "stylizednerf": 3.5, "arf": 2.0}}
    evals = [_fake_eval(tmp_path / "evals", "synth", style, method, s, rng)
             for style, rows in losses.items() for method, s in rows.items()]
    out = tmp_path / "report"
    assert cli.main(["report", "--evals", *map(str, evals), "--out", str(out)]) == 0
    for style, rows in losses.items():
        table = _read_csv(out / "per_style" / f"synth_{style}.csv")
        assert list(table) == ["gt", "adain", "stylizednerf", "arf"]
        for method, s in rows.items():
            truth = json.loads((tmp_path / "evals" / "synth" / style / f"{method}.json").read_text())
            assert float(table[method]["style loss"]) == pytest.approx(s)
            assert float(table[method]["short RMSE"]) == pytest.approx(truth["per_gap"]["1"]["rmse"], rel=1e-5)  # %.6g
            assert float(table[method]["style retained"]) == pytest.approx((rows["gt"] - s) / (rows["gt"] - rows["adain"]), rel=1e-5)
            assert table[method]["runs"] == "1"
        assert f"Scene synth, style {style}" in (out / "per_style" / f"synth_{style}.md").read_text()
        assert (out / "per_style" / f"synth_{style}.html").exists() and (out / "per_style" / f"synth_{style}.tex").exists()
    # the scene table is the mean of the two
    scene = _read_csv(out / "table_synth.csv")
    assert float(scene["arf"]["style retained"]) == pytest.approx((0.25 + 1.0) / 2)


def test_report_shows_the_median_warp_numbers_of_the_evals(tmp_path):
    """table_*_median_warp: the median_* numbers of the eval JSONs (mean per method), with a caption
    saying why; the main table keeps its columns; an eval without them is named, not averaged."""
    rng = np.random.default_rng(21)
    evals = []
    for scene in ("synth", "other"):
        for method in ("gt", "stylizednerf"):
            path = _fake_eval(tmp_path / "evals", scene, "waves", method, 1.0, rng)
            if (scene, method) == ("other", "gt"):
                evals.append(path)  # an eval JSON from before the median-depth warp
                continue
            data = json.loads(path.read_text())
            for summary in data["per_gap"].values():
                summary.update(median_rmse=float(rng.uniform(0.1, 0.2)), median_lpips=float(rng.uniform(0.1, 0.2)),
                               median_valid_fraction=0.9)
            path.write_text(json.dumps(data))
            evals.append(path)
    out = tmp_path / "report"
    assert cli.main(["report", "--evals", *map(str, evals), "--out", str(out)]) == 0
    data = {(p.parent.parent.name, p.stem): json.loads(p.read_text()) for p in evals}
    median = lambda scene, method, gap, key: data[(scene, method)]["per_gap"][gap][f"median_{key}"]  # noqa: E731

    mean = _read_csv(out / "table_mean_median_warp.csv")
    assert (out / "table_mean_median_warp.csv").read_text().splitlines()[0] == (
        "method,short LPIPS,short RMSE,long LPIPS,long RMSE,runs")
    assert list(mean) == ["gt", "stylizednerf"]
    assert float(mean["gt"]["short RMSE"]) == pytest.approx(median("synth", "gt", "1", "rmse"), rel=1e-5)
    assert mean["gt"]["runs"] == "1"
    for column, gap, key in (("short RMSE", "1", "rmse"), ("long RMSE", "7", "rmse"), ("short LPIPS", "1", "lpips"),
                             ("long LPIPS", "7", "lpips")):
        assert float(mean["stylizednerf"][column]) == pytest.approx(
            np.mean([median(s, "stylizednerf", gap, key) for s in ("synth", "other")]), rel=1e-5), column
    other = _read_csv(out / "table_other_median_warp.csv")
    assert list(other) == ["stylizednerf"]
    assert float(other["stylizednerf"]["long RMSE"]) == pytest.approx(median("other", "stylizednerf", "7", "rmse"),
                                                                      rel=1e-5)
    markdown = (out / "table_mean_median_warp.md").read_text()
    assert "### Consistency under the median-depth warp" in markdown
    assert "favours a stylization that attaches colour to the expected depth" in markdown
    assert "other/waves gt" in markdown  # named: no median numbers in its eval
    row = next(line for line in markdown.splitlines() if line.startswith("| StylizedNeRF (ours) |"))
    assert [c.strip() for c in row.strip("|").split("|")][2] == f"{float(mean['stylizednerf']['short RMSE']):.4f}"
    assert "median" not in (out / "table_mean.csv").read_text()  # the main table keeps its columns
    assert "LPIPS & RMSE & LPIPS & RMSE \\\\" in (out / "table_synth_median_warp.tex").read_text()
    files = json.loads((out / "report.json").read_text())["files"]
    assert str(out / "table_synth_median_warp.md") in files


def test_report_without_reference_rows_leaves_style_retained_empty(tmp_path):
    rng = np.random.default_rng(3)
    evals = [_fake_eval(tmp_path, "synth", "waves", m, float(rng.uniform(1, 3)), rng)
             for m in ("stylizednerf", "decoder_mutual")]
    # a second scene x style whose AdaIN is further from the style than gt (an undertrained decoder)
    evals += [_fake_eval(tmp_path, "synth", "flat", m, s, rng)
              for m, s in (("gt", 1.0), ("adain", 1.5), ("stylizednerf", 2.0))]
    assert cli.main(["report", "--evals", *map(str, evals), "--out", str(tmp_path / "report")]) == 0
    mean = _read_csv(tmp_path / "report" / "table_mean.csv")
    assert all(row["style retained"] == "" and row["style loss"] != "" for row in mean.values())
    note = (tmp_path / "report" / "table_synth.md").read_text()
    assert "synth/waves (gt, adain)" in note and "synth/flat (adain 1.5 >= gt 1)" in note


# ---- the fine-tuned decoder's row: its file and its frames -------------------------------------

def test_fine_tuned_decoder_file_runs_the_decoder_row(tmp_path):
    """The stylize job's decoder.pt ({'decoder', 'fine_tuned_for'}) loads, and stylize-2d --bundle (the
    decoder_frames rule) uses its weights, not the pre-trained ones."""
    from PIL import Image

    from stylizednerf.cameras import Camera, CameraSet, read_cameras, write_cameras
    from stylizednerf.fileio import atomic_save_torch
    from stylizednerf.stylization2d.decoder import Decoder, load_decoder

    torch.manual_seed(0)
    pretrained, fine_tuned = Decoder(), Decoder()
    atomic_save_torch(tmp_path / "pretrained.pt", {"decoder": pretrained.state_dict(), "iterations": 1})
    atomic_save_torch(tmp_path / "fine_tuned.pt", {"decoder": fine_tuned.state_dict(), "fine_tuned_for": "waves"})
    loaded = load_decoder(tmp_path / "fine_tuned.pt").state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in fine_tuned.state_dict().items())

    rng = np.random.default_rng(0)
    frames = tmp_path / "path" / "frames"
    frames.mkdir(parents=True)
    cams = []
    for n in range(2):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(frames / f"{n:03d}.png")
        cams.append(Camera(f"{n:03d}.png", 32, 24, 30.0, 30.0, 16.0, 12.0, np.eye(4), 0.1, 10.0))
    write_cameras(tmp_path / "path" / "cameras.json", CameraSet(cams, frames))
    Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "style.png")
    outputs = {}
    for name in ("pretrained", "fine_tuned"):
        out = tmp_path / f"decoder_{name}"
        assert cli.main(["stylize-2d", "--bundle", "--decoder", str(tmp_path / f"{name}.pt"), "--style",
                         str(tmp_path / "style.png"), "--out", str(out), "--device", "cpu",
                         str(tmp_path / "path" / "cameras.json")]) == 0
        assert len(read_cameras(out / "cameras.json")) == 2
        outputs[name] = np.asarray(Image.open(out / "frames" / "000.png"), dtype=np.int16)
    assert outputs["fine_tuned"].shape == (24, 32, 3)
    assert np.abs(outputs["fine_tuned"] - outputs["pretrained"]).mean() > 1.0


# ---- the workflow: decoder rows, fit inputs of the report -------------------------------------

def _dry_run(tmp_path, **stylize) -> str:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["stylize"].update(stylize)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(["-n", "-p", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], cwd=ROOT,
                         timeout=300)
    return done.stdout


def test_report_shows_training_time_and_render_fps_of_the_3d_rows(tmp_path):
    """train s and render FPS come from the training and render jobs' metadata, per scene x style,
    averaged like every column; rows without a --timing entry leave them empty."""
    rng = np.random.default_rng(19)
    evals = [_fake_eval(tmp_path / "evals", "synth", style, method, float(rng.uniform(1, 3)), rng)
             for style in ("a", "b") for method in ("gt", "adain", "stylizednerf", "arf")]
    seconds = {("a", "stylizednerf"): 151.25, ("b", "stylizednerf"): 148.75, ("a", "arf"): 105.5, ("b", "arf"): 110.5}
    fps = {("a", "stylizednerf"): 63.0, ("b", "stylizednerf"): 64.0, ("a", "arf"): 61.5, ("b", "arf"): 62.5}
    timings = []
    for (style, method), value in seconds.items():
        train, render = tmp_path / style / method / "train.json", tmp_path / style / method / "render.json"
        train.parent.mkdir(parents=True)
        train.write_text(json.dumps({"stage": method, "seconds": value}))
        render.write_text(json.dumps({"stage": "render", "stats": {"frames": 120, "fps": fps[(style, method)]}}))
        timings += ["--timing", method, "synth", style, str(train), str(render)]
    out = tmp_path / "report"
    assert cli.main(["report", "--evals", *map(str, evals), *timings, "--out", str(out)]) == 0
    mean = _read_csv(out / "table_mean.csv")
    assert float(mean["stylizednerf"]["train s"]) == pytest.approx(150.0)
    assert float(mean["arf"]["render FPS"]) == pytest.approx(62.0)
    assert mean["gt"]["train s"] == "" and mean["adain"]["render FPS"] == ""
    markdown = (out / "table_mean.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| ARF (NNFM, baseline) |"))
    assert [c.strip() for c in row.strip("|").split("|")][9:11] == ["108.0", "62.0"]
    assert "train s" in (out / "table_mean.html").read_text()

    # a render metadata without fps (an older output): an empty cell, not a crash
    (tmp_path / "a" / "arf" / "render.json").write_text(json.dumps({"stats": {"frames": 120}}))
    assert cli.main(["report", "--evals", *map(str, evals), *timings, "--out", str(out)]) == 0
    assert float(_read_csv(out / "table_mean.csv")["arf"]["render FPS"]) == pytest.approx(62.5)
    assert _read_csv(out / "table_synth.csv")["arf"]["train s"] != ""


def _jobs(output: str, rule: str) -> list[str]:
    return [chunk for chunk in re.split(r"^rule ", output, flags=re.M)[1:] if chunk.startswith(f"{rule}:")]


@pytest.mark.parametrize("sequential", [False, True])
def test_workflow_evaluates_the_decoder_rows_and_feeds_the_fits_to_the_report(tmp_path, sequential):
    output = _dry_run(tmp_path, sequential_baseline=sequential)
    styles = list(yaml.safe_load((ROOT / "config.yaml").read_text())["styles"])
    variants = ["mutual", "sequential"] if sequential else ["mutual"]
    for variant, rule in (("mutual", "decoder_frames"), ("sequential", "decoder_frames_sequential")):
        jobs = _jobs(output, rule)
        assert len(jobs) == (len(styles) if variant in variants else 0), rule
        for job in jobs:
            source = "stylize" if variant == "mutual" else "stylize_sequential"
            assert re.search(rf"--decoder results/demo/\w+/{source}/decoder\.pt ", job), job
            assert re.search(rf"--out results/demo/\w+/decoder_{variant} ", job), job
    evaluated = {re.search(r"--method (\w+)", job).group(1) for job in _jobs(output, "evaluate")}
    assert {f"decoder_{v}" for v in variants} <= evaluated
    assert ("decoder_sequential" in evaluated) == sequential
    (report,) = _jobs(output, "report")
    for style in styles:
        for method, folder in (("stylizednerf", "stylize"), ("sequential", "stylize_sequential")):
            fit = f"--fit {method} demo {style} results/demo/{style}/{folder}/metadata.json"
            assert (fit in report) == (method == "stylizednerf" or sequential), fit
            assert (f"results/demo/{style}/{folder}/metadata.json" in report.split("output:")[0]) == (
                method == "stylizednerf" or sequential)
        for method, folder, render in (("stylizednerf", "stylize", "render"),
                                       ("sequential", "stylize_sequential", "render_sequential")):
            timing = (f"--timing {method} demo {style} results/demo/{style}/{folder}/metadata.json "
                      f"results/demo/{style}/{render}/metadata.json")
            assert (timing in report) == (method == "stylizednerf" or sequential), timing
            assert (f"results/demo/{style}/{render}/metadata.json" in report.split("output:")[0]) == (
                method == "stylizednerf" or sequential)


def test_schema_default_methods_include_the_decoder_rows():
    methods = schema()["properties"]["evaluate"]["properties"]["methods"]
    assert {"decoder_mutual", "decoder_sequential"} <= set(methods["default"]) <= set(methods["items"]["enum"])


def test_smoke_test_scenes_say_so_in_their_tables_and_only_there(tmp_path):
    rng = np.random.default_rng(5)
    evals = [_fake_eval(tmp_path, scene, "waves", m, s, rng)
             for scene in ("demo", "fern") for m, s in (("gt", 3.0), ("adain", 1.0), ("stylizednerf", 2.0))]
    out = tmp_path / "report"
    assert cli.main(["report", "--evals", *map(str, evals), "--out", str(out), "--smoke-test", "demo"]) == 0
    assert "**Smoke test:" in (out / "table_demo.md").read_text()
    assert "Smoke test" not in (out / "table_fern.md").read_text()
    assert "Smoke test" in (out / "table_mean.md").read_text() and "(scene demo)" in (out / "table_mean.md").read_text()
    assert "Smoke test" in (out / "table_demo.tex").read_text()


@pytest.mark.parametrize("source, warned", [("demo", True), ("some/llff/folder", False)])
def test_report_description_warns_on_demo_results(source, warned):
    """The global description of ``snakemake --report`` (Jinja, then reStructuredText, as
    Snakemake renders it) names the scenes and styles, and warns only where a scene is the demo."""
    import jinja2
    from docutils.core import publish_parts

    class Snakemake:
        config = {"scenes": {"mine": {"source": source}}, "styles": {"a": "x", "b": "y"},
                  "stylize": {"mutual": True, "sequential_baseline": False}}

    text = (ROOT / "workflow" / "report" / "workflow.rst").read_text()
    html = publish_parts(jinja2.Environment().from_string(text).render(snakemake=Snakemake), writer="html",
                         settings_overrides={"report_level": 2, "halt_level": 2})["html_body"]
    assert ("Smoke test" in html) == warned
    assert "mine" in html and "a, b" in html and "error" not in html.lower()


def test_workflow_renders_and_evaluates_the_median_depth(tmp_path):
    """render_path declares path/depth_median; every evaluate job reads it (a declared input) and
    passes it as --median-depth."""
    output = _dry_run(tmp_path)
    (render_path,) = _jobs(output, "render_path")
    assert "results/demo/path/depth_median" in render_path.split("output:")[1].split("log:")[0], render_path
    jobs = _jobs(output, "evaluate")
    assert jobs
    for job in jobs:
        declared = job.split("output:")[0]
        assert "results/demo/path/depth_median" in declared, job
        assert "--median-depth results/demo/path/depth_median " in job, job


def test_frame_grid_shows_the_style_once_full_labels_and_no_empty_boxes(tmp_path, monkeypatch):
    """The grid's layout: the style image in one cell (top left), each method's full name in the
    label column (wrapped, not cut), one frame per column and row, and every other cell without a
    frame (no empty boxes under the style image or beside it)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.image import AxesImage
    from PIL import Image

    import stylizednerf.metrics.report as R

    style = tmp_path / "style.png"
    Image.fromarray(np.full((20, 30, 3), (255, 0, 255), np.uint8)).save(style)
    evals = []
    for k, method in enumerate(["gt", "adain", "stylizednerf", "decoder_sequential", "arf"]):
        frames = tmp_path / method
        frames.mkdir()
        names = [f"{i:03d}.png" for i in range(8)]
        for i, name in enumerate(names):
            Image.fromarray(np.full((12, 16, 3), (40 * k, 10 * i, 90), np.uint8)).save(frames / name)
        evals.append({"scene": "synth", "style": "waves", "method": method, "frames_dir": str(frames),
                      "frame_names": names, "style_image": str(style)})
    figures = []
    original = R._save_figure
    monkeypatch.setattr(R, "_save_figure", lambda fig, path: (figures.append(fig), original(fig, path))[1])
    n_frames = 4
    path = R.qualitative_grid(evals, n_frames, tmp_path / "grid.png", smoke_test=True)
    assert path.is_file()
    (fig,) = figures
    axes = np.array(fig.axes).reshape(len(evals) + 1, n_frames + 1)
    shown = [[any(isinstance(child, AxesImage) for child in ax.get_children()) for ax in row] for row in axes]
    assert shown[0] == [True] + [False] * n_frames  # the style, once, top left
    for row in shown[1:]:
        assert row == [False] + [True] * n_frames  # a label cell, then one frame per column
    for r, row in enumerate(axes):
        for c, ax in enumerate(row):
            assert ax.axison == shown[r][c], (r, c)  # a cell without an image draws no box
    style_cell = [child for child in axes[0, 0].get_children() if isinstance(child, AxesImage)][0]
    assert tuple(style_cell.get_array()[0, 0][:3]) == (255, 0, 255)
    labels = [" ".join(text.get_text().split()) for ax in axes[1:, 0] for text in ax.texts]
    assert labels == [R.METHOD_LABELS[ev["method"]] for ev in evals]  # full names, in the table's order
    assert all(len(line) <= 18 for ax in axes[1:, 0] for text in ax.texts for line in text.get_text().split("\n"))
    assert "Smoke test" in fig._suptitle.get_text()
    assert textwrap.fill(R.METHOD_LABELS["decoder_sequential"], 18).count("\n") >= 1  # it needed wrapping
