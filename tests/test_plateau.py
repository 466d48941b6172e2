"""The decoder's plateau rule (stylizednerf/stylization2d/plateau.py) on synthetic loss curves, and
the trainer stopping by it (decoder_metrics.json and decoder.pt say where and why)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from stylizednerf.stylization2d.plateau import find_plateau, plateau_at, smoothed_loss

LOG_EVERY, WINDOW, TOL = 50, 1000, 0.01


def curve(values, log_every=LOG_EVERY):
    return [{"iteration": (k + 1) * log_every, "loss": float(v), "seconds": (k + 1) * 0.1}
            for k, v in enumerate(values)]


def decaying(n_logs, tau=2000.0, floor=3.0, amplitude=20.0, noise=0.0, seed=0):
    """floor + amplitude * exp(-t / tau), times (1 + noise * N(0,1)) per logged value."""
    t = np.arange(1, n_logs + 1) * LOG_EVERY
    clean = floor + amplitude * np.exp(-t / tau)
    rng = np.random.default_rng(seed)
    return clean * (1 + noise * rng.standard_normal(n_logs)), t


def test_smoothed_loss_is_the_window_mean():
    history = curve([4, 2, 6, 8])  # iterations 50..200
    assert smoothed_loss(history, 200, 100) == 7
    assert smoothed_loss(history, 100, 100) == 3
    assert smoothed_loss(history, 0, 100) is None


def test_decaying_curve_stops_near_its_knee():
    values, t = decaying(400)  # 20,000 iterations, tau 2000
    found = find_plateau(curve(values), WINDOW, TOL)
    assert found is not None
    # where the clean curve's fall over one window drops under 1 % of its level, give or take a window
    S = lambda x: 3.0 + 20.0 * math.exp(-x / 2000.0)  # noqa: E731
    knee = next(x for x in range(2 * WINDOW, 20000, LOG_EVERY) if S(x - WINDOW / 2) > 0.99 * S(x - 1.5 * WINDOW))
    assert abs(found["iteration"] - knee) <= WINDOW, (found, knee)
    assert found["relative_improvement"] < TOL
    assert found["smoothed_loss"] < found["smoothed_loss_window_before"] * (1 - 0) + 1e-9


def test_still_falling_curve_does_not_stop():
    # a power law falling 3-7 % per window over 20,000 iterations: never a plateau at 1 %
    t = np.arange(1, 401) * LOG_EVERY
    values = 100.0 * (t / 50.0) ** -0.6
    history = curve(values)
    assert find_plateau(history, WINDOW, TOL) is None
    # ... but it does at a tolerance above its fall per window
    assert find_plateau(history, WINDOW, 0.1) is not None


@pytest.mark.parametrize("noise, falling", [(0.03, 0.05), (0.05, 0.05), (0.10, 0.08)])
def test_noise_does_not_stop_early(noise, falling):
    """Noise on each logged value (itself a 50-iteration mean; the H100 run's logged losses jump by up
    to ~8 %): training never stops while the clean curve still falls by more than ``falling`` per
    window (5x the tolerance at up to 5 % noise, 8x at 10 %), and it stops within two windows
    after the clean curve's stop."""
    S = lambda x: 3.0 + 20.0 * math.exp(-x / 2000.0)  # noqa: E731
    still_falling = next(x for x in range(2 * WINDOW, 20000, LOG_EVERY) if S(x) > (1 - falling) * S(x - WINDOW))
    clean_stop = find_plateau(curve(decaying(400)[0]), WINDOW, TOL)["iteration"]
    for seed in range(20):
        values, _ = decaying(400, noise=noise, seed=seed)
        found = find_plateau(curve(values), WINDOW, TOL)
        assert found is not None, seed
        assert still_falling <= found["iteration"] <= clean_stop + 2 * WINDOW, (seed, found, still_falling)


def test_single_values_would_stop_early_where_windows_do_not():
    # the reason for windows: comparing single logged values of the noisy curve stops at once
    values, _ = decaying(400, noise=0.10, seed=1)
    history = curve(values)
    single = next(k for k in range(1, len(history)) if history[k]["loss"] > 0.99 * history[k - 1]["loss"])
    assert history[single]["iteration"] < 1000
    assert find_plateau(history, WINDOW, TOL)["iteration"] > 5 * history[single]["iteration"]


def test_flat_noise_stops_after_two_windows_not_before():
    rng = np.random.default_rng(0)
    history = curve(3.0 * (1 + 0.05 * rng.standard_normal(100)))
    found = find_plateau(history, WINDOW, TOL)
    assert found is not None and found["iteration"] >= 2 * WINDOW
    assert all(plateau_at(history, k, WINDOW, TOL) is None for k in range(2 * WINDOW // LOG_EVERY - 1))


def test_bench_uses_the_same_rule():
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("bench_decoder", root / "bench" / "decoder.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    values, _ = decaying(300, noise=0.05, seed=3)
    history = curve(values)
    assert bench.plateau(history, WINDOW, TOL)["iteration"] == find_plateau(history, WINDOW, TOL)["iteration"]


@pytest.mark.parametrize("stop", ["plateau", "iterations"])
def test_trainer_stops_at_the_plateau_and_says_why(tmp_path, stop):
    """A tiny decoder run with lr 0 (a flat loss up to sampling noise) and a 2-iteration window:
    with stop: plateau it ends once two windows compare (iteration 4 or soon after, of 40), with
    stop: iterations it runs all 40; both record why."""
    import torch
    from PIL import Image

    from stylizednerf.stylization2d.train_decoder import train_decoder

    rng = np.random.default_rng(0)
    for folder, n in (("contents", 2), ("styles", 2)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / folder / f"{i}.png")
    contents = sorted((tmp_path / "contents").glob("*.png"))
    styles = sorted((tmp_path / "styles").glob("*.png"))
    settings = {"device": "cpu", "iterations": 40, "batch_size": 1, "crop_size": 16, "load_size": 24, "lr": 1e-12,
                "log_every": 1, "sample_every": 1000, "checkpoint_every": 1000, "sample_contents": 1,
                "sample_styles": 1, "sample_size": 16, "stop": stop, "plateau_window": 2, "plateau_tolerance": 0.5}
    torch.set_num_threads(1)
    report = train_decoder(settings, contents, styles, tmp_path / "out", progress=False)
    metrics = json.loads((tmp_path / "out" / "decoder_metrics.json").read_text())
    saved = torch.load(tmp_path / "out" / "decoder.pt", weights_only=True)
    assert metrics["stopped"] == report["stopped"] == saved["stopped"]
    if stop == "plateau":
        assert metrics["stopped"]["reason"] == "plateau"
        assert 4 <= metrics["iterations"] < 40
        assert metrics["stopped"]["iteration"] == metrics["iterations"] == saved["iterations"]
        assert metrics["stopped"]["relative_improvement"] < 0.5
    else:
        assert metrics["stopped"] == {"reason": "iterations", "iteration": 40, "iterations": 40}
        assert metrics["iterations"] == 40


def test_a_run_resumed_after_its_plateau_stops_at_once(tmp_path, monkeypatch):
    """Killed after saving its stop checkpoint but before its outputs: the rerun resumes there,
    applies the rule to the saved history and trains no further."""
    import torch
    from PIL import Image

    from stylizednerf.checkpoint import Checkpoint
    from stylizednerf.stylization2d.train_decoder import train_decoder

    rng = np.random.default_rng(1)
    for folder in ("contents", "styles"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / folder / f"{i}.png")
    contents = sorted((tmp_path / "contents").glob("*.png"))
    styles = sorted((tmp_path / "styles").glob("*.png"))
    settings = {"device": "cpu", "iterations": 40, "batch_size": 1, "crop_size": 16, "load_size": 24, "lr": 1e-12,
                "log_every": 1, "sample_every": 1000, "checkpoint_every": 1000, "sample_contents": 1,
                "sample_styles": 1, "sample_size": 16, "stop": "plateau", "plateau_window": 2,
                "plateau_tolerance": 0.5}
    torch.set_num_threads(1)
    monkeypatch.setattr(Checkpoint, "remove", lambda self: None)  # as if killed before the cleanup
    first = train_decoder(settings, contents, styles, tmp_path / "out", tmp_path / "ckpt", progress=False)
    assert first["stopped"]["reason"] == "plateau" and (tmp_path / "ckpt" / "decoder_ckpt.pt").exists()
    again = train_decoder(settings, contents, styles, tmp_path / "out", tmp_path / "ckpt", progress=False)
    assert again["resumed_from"] == first["iterations"] == again["iterations"]
    assert again["iterations_this_run"] == 0
    assert again["stopped"]["reason"] == "plateau" and again["stopped"]["iteration"] == first["iterations"]
