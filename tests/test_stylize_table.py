"""bench/stylize_table.py: BENCHMARKS.md rows read from bench/stylize.py results."""

import importlib.util
import json

import pytest


@pytest.fixture(scope="module")
def table(project_root):
    spec = importlib.util.spec_from_file_location("stylize_table", project_root / "bench" / "stylize_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(rmse1, lpips1, rmse7, lpips7, median=None, **extra):
    gaps = {}
    for gap, (rmse, lpips) in {"1": (rmse1, lpips1), "7": (rmse7, lpips7)}.items():
        gaps[gap] = {"rmse": rmse, "lpips": lpips}
        if median is not None:
            gaps[gap].update(median_rmse=rmse * median, median_lpips=lpips * median)
    return {"consistency": gaps, **extra}


def test_rows_are_ratios_to_the_same_runs_adain(table, tmp_path):
    bench = {"styles": {"mondrian": {
        "adain": _row(0.2, 0.1, 0.4, 0.2, median=1.0, style_loss=1.5, content_loss=3.0, style_retained=1.0),
        "vol": _row(0.1, 0.08, 0.3, 0.05, median=0.6, style_loss=2.0, content_loss=2.5, style_retained=0.93,
                    fit={"mimic_psnr": 19.155}, total_seconds=150.4, training_seconds=131.0, render_fps=63.88,
                    phase_seconds={"decoder steps": 40.2, "nerf steps": 88.9}),
        "style_retained_note": "not a row",
    }}}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    rows = table.rows_of(json.loads(path.read_text()))
    assert [r[1] for r in rows] == ["adain", "vol"]
    adain, vol = rows
    assert adain[5:9] == ["0.2000", "0.1000", "0.4000", "0.2000"]  # the denominators, as measured
    # expected-depth ratio, then the median-depth one (0.6 x the values here: 0.6 x the ratio)
    assert vol[5:9] == ["0.50x (0.30x)", "0.80x (0.48x)", "0.75x (0.45x)", "0.25x (0.15x)"]
    assert vol[2:5] == ["0.93", "2.000", "2.500"]
    assert vol[9] == "19.16" and vol[11] == "63.9"
    assert vol[10] == "150 (131 training); decoder steps 40, nerf steps 89"
    md = table.to_markdown(rows)
    assert md.splitlines()[0].startswith("| style | row | style retained |") and md.count("\n") == 4


def test_a_file_that_is_not_a_result_is_one_line(table, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"no": "styles"}))
    with pytest.raises(SystemExit) as info:
        table.main([str(path)])
    assert str(info.value.code).startswith("error: ") and "other.json" in str(info.value.code)
