"""One Checkpoint for every trainer (issue 15): a checkpoint resumes only the run it belongs to.

Per trainer, through its entry point on CPU at tiny sizes: a kill (simulated by raising right
after a checkpoint is written) and a rerun give bit-identical outputs; other input bytes under the
same path or another result setting set the checkpoint aside (a note, a fresh start); a runtime
setting does not; a truncated checkpoint gives a note and a fresh start with exit status 0; a
finished job leaves no checkpoint behind.
"""

import json
import shutil

import numpy as np
import pytest
import torch

from stylizednerf.checkpoint import Checkpoint, fingerprint, hash_files, to_host

pytestmark = pytest.mark.usefixtures("one_thread")


class Killed(Exception):
    """Stands in for a killed job."""


def kill_after_saves(monkeypatch, count: int) -> None:
    """The ``count``-th checkpoint write completes, then the job dies."""
    original = Checkpoint.save
    calls = []

    def save(self, state):
        original(self, state)
        calls.append(1)
        if len(calls) == count:
            raise Killed

    monkeypatch.setattr(Checkpoint, "save", save)
    monkeypatch.setattr(Checkpoint, "__call__", save)


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_same_tensors(a[key], b[key])
        elif torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


# ---- the module --------------------------------------------------------------------------------

def test_hash_files_follows_bytes_not_names(tmp_path):
    (tmp_path / "a.png").write_bytes(b"one")
    (tmp_path / "b.png").write_bytes(b"two")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"one")
    (tmp_path / "sub" / "d.png").write_bytes(b"two")
    assert hash_files([tmp_path / "a.png", tmp_path / "b.png"]) == hash_files([tmp_path / "sub"])
    assert hash_files([tmp_path / "a.png", tmp_path / "b.png"]) != hash_files([tmp_path / "b.png", tmp_path / "a.png"])
    before = hash_files([tmp_path / "sub"])
    (tmp_path / "sub" / "d.png").write_bytes(b"TWO")
    assert hash_files([tmp_path / "sub"]) != before


def test_fingerprint_leaves_out_runtime_settings_and_is_plain_data(tmp_path):
    a = fingerprint("t/1", {"lr": 1e-3, "chunk": 4, "device": "cpu", "fast": {"log_every": 5, "hidden": 8}}, {"x": "h"})
    b = fingerprint("t/1", {"lr": 1e-3, "chunk": 8, "device": "cuda", "fast": {"log_every": 9, "hidden": 8}}, {"x": "h"})
    assert a == b == {"kind": "t/1", "settings": {"fast": {"hidden": 8}, "lr": 1e-3}, "inputs": {"x": "h"}}
    torch.save({"fingerprint": a}, tmp_path / "f.pt")
    assert torch.load(tmp_path / "f.pt", weights_only=True)["fingerprint"] == a


def test_checkpoint_sets_aside_what_does_not_belong(tmp_path):
    notes = []
    path = tmp_path / "ckpt" / "state.pt"
    mine = fingerprint("t/1", {"lr": 1.0}, {"images": "aa"})
    Checkpoint(path, mine).save({"step": 3, "w": torch.ones(2)})
    state = Checkpoint(path, mine, log=notes.append).load()
    assert state["step"] == 3 and torch.equal(state["w"], torch.ones(2))
    assert Checkpoint(path, fingerprint("t/1", {"lr": 2.0}, {"images": "aa"}), log=notes.append).load() is None
    assert notes[-1].startswith("note: ") and "settings.lr" in notes[-1] and "\n" not in notes[-1]
    assert not path.exists() and path.with_name("state.pt.stale").is_file()
    for damage in (truncate, lambda p: p.write_bytes(b"not a checkpoint"),
                   lambda p: torch.save({"step": 1}, p)):  # unreadable, foreign, not ours
        Checkpoint(path, mine).save({"step": 1})
        damage(path)
        assert Checkpoint(path, mine, log=notes.append).load() is None
        assert "starting afresh" in notes[-1] and "\n" not in notes[-1]
        assert not path.exists()
    Checkpoint(path, mine).remove()
    assert not path.parent.exists()  # checkpoint, set-aside copy and the emptied folder are gone


def test_checkpoint_host_copy_is_independent_of_the_training_tensors():
    weight = torch.ones(3)
    state = {"module": {"weight": weight}, "opt": {"state": {0: {"exp_avg": weight * 2}},
                                                   "param_groups": [{"lr": 0.1, "params": [0]}]},
             "log": [{"loss": 1.0}], "pair": (weight, 5)}
    host = to_host(state)
    weight.add_(1.0)  # the next training step
    assert torch.equal(host["module"]["weight"], torch.ones(3))
    assert torch.equal(host["opt"]["state"][0]["exp_avg"], torch.full((3,), 2.0))
    assert host["opt"]["param_groups"] == [{"lr": 0.1, "params": [0]}] and host["log"] == [{"loss": 1.0}]
    assert isinstance(host["pair"], tuple) and host["pair"][1] == 5 and torch.equal(host["pair"][0], torch.ones(3))


def test_background_writes_resume_and_surface_failures(tmp_path):
    path = tmp_path / "ckpt" / "state.pt"
    weight = torch.zeros(4)
    with Checkpoint(path, {"kind": "t"}, background=True) as writer:
        assert writer.load() is None
        for step in range(3):
            weight.add_(1.0)
            writer({"step": step, "weight": weight})
    state = Checkpoint(path, {"kind": "t"}).load()
    assert state["step"] == 2 and torch.equal(state["weight"], torch.full((4,), 3.0))
    with pytest.raises(Exception):  # a failed write surfaces when the block ends ...
        with Checkpoint(path, {"kind": "t"}, background=True) as writer:
            writer({"not saveable": lambda: None})
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]  # ... and leaves nothing half-written


# ---- NeRF pre-training -------------------------------------------------------------------------

NERF = {"device": "cpu", "seed": 0, "holdout_every": 0, "val_rays": 64, "val_every": 5, "log_every": 5,
        "checkpoint_every": 5, "render_chunk": 4096,
        "fast": {"iterations": 10, "batch_rays": 64, "levels": 4, "log2_table": 10, "base_resolution": 4,
                 "max_resolution": 32, "hidden": 16, "grid_resolution": 8, "grid_update_every": 4,
                 "coarse_samples": 16, "samples": 8, "lr_decay_steps": None}}


@pytest.fixture(scope="module")
def nerf_scene(tmp_path_factory):
    """A tiny scene (cameras.json + images) and the model.pt of an uninterrupted run."""
    from stylizednerf.cameras import write_cameras
    from stylizednerf.nerf.train import main
    from tests.test_nerf import _camera_set, _write_images

    root = tmp_path_factory.mktemp("nerf_scene")
    cams = _camera_set(root / "images", count=4)
    _write_images(cams)
    write_cameras(root / "cameras.json", cams)
    assert main(["--cameras", str(root / "cameras.json"), "--out", str(root / "reference"), "--no-progress",
                 "--settings", json.dumps(NERF)]) == 0
    return root


def _nerf_run(scene, tmp_path, settings=NERF):
    from stylizednerf.nerf.train import main

    return main(["--cameras", str(scene / "cameras.json"), "--out", str(tmp_path / "nerf"), "--no-progress",
                 "--checkpoint-dir", str(tmp_path / "nerf_ckpt"), "--settings", json.dumps(settings)])


def _nerf_model(path):
    return torch.load(path / "model.pt", weights_only=True)["state_dict"]


def _nerf_killed(scene, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 1)  # after step 5 of 10
        with pytest.raises(Killed):
            _nerf_run(scene, tmp_path)
    assert (tmp_path / "nerf_ckpt" / "last.pt").is_file()


@pytest.mark.parametrize("change", ["none", "runtime"])
def test_nerf_kill_and_resume_is_bit_identical(nerf_scene, tmp_path, monkeypatch, capsys, change):
    _nerf_killed(nerf_scene, tmp_path, monkeypatch)
    capsys.readouterr()
    settings = NERF if change == "none" else {**NERF, "render_chunk": 1024, "compile": True, "log_every": 1}
    assert _nerf_run(nerf_scene, tmp_path, settings) == 0
    assert "resumed at step 5" in capsys.readouterr().err
    assert_same_tensors(_nerf_model(tmp_path / "nerf"), _nerf_model(nerf_scene / "reference"))
    assert not (tmp_path / "nerf_ckpt").exists()


@pytest.mark.parametrize("change", ["image", "setting", "truncated"])
def test_nerf_checkpoint_of_another_run_is_set_aside(nerf_scene, tmp_path, monkeypatch, capsys, change):
    scene = tmp_path / "scene"
    shutil.copytree(nerf_scene, scene)
    _nerf_killed(scene, tmp_path, monkeypatch)
    capsys.readouterr()
    settings = NERF
    if change == "image":  # same path, other bytes
        image = scene / "images" / "001.png"
        from PIL import Image

        Image.fromarray(255 - np.asarray(Image.open(image))).save(image)
    elif change == "setting":
        settings = {**NERF, "fast": {**NERF["fast"], "lr": 0.02}}
    else:
        truncate(tmp_path / "nerf_ckpt" / "last.pt")
    assert _nerf_run(scene, tmp_path, settings) == 0
    err = capsys.readouterr().err
    expected = {"image": "other inputs.images", "setting": "other settings.fast", "truncated": "cannot be read"}[change]
    assert expected in err and "starting afresh" in err and "resumed" not in err and "Traceback" not in err
    if change == "truncated":  # a fresh start is the uninterrupted run
        assert_same_tensors(_nerf_model(tmp_path / "nerf"), _nerf_model(nerf_scene / "reference"))
    assert not (tmp_path / "nerf_ckpt").exists()


# ---- the 2D side: decoder pre-training and the style VAE ----------------------------------------

DECODER = {"iterations": 4, "batch_size": 2, "crop_size": 32, "load_size": 40, "log_every": 2, "sample_every": 100,
           "checkpoint_every": 2, "sample_size": 24, "device": "cpu", "seed": 3}
VAE = {"iterations": 40, "batch_size": 8, "crops_per_style": 4, "crop_size": 32, "load_size": 40, "hidden": 32,
       "log_every": 10, "checkpoint_every": 20, "device": "cpu", "plot_samples": 8}
TRAINERS_2D = {
    # stage, settings, checkpoint file, a result setting, runtime settings, output file, its tensors
    "decoder": ("pretrain-decoder", DECODER, "decoder_ckpt.pt", {"lr": 2e-4},
                {"log_every": 1, "sample_every": 1, "max_seconds": 1000}, "decoder.pt", "decoder"),
    "vae": ("train-vae", VAE, "vae_ckpt.pt", {"kl_weight": 0.2}, {"log_every": 5, "plot_samples": 4},
            "vae.pt", "vae"),
}


@pytest.fixture(scope="module")
def images_2d(tmp_path_factory):
    """Content and style images, and each 2D trainer's output of an uninterrupted run."""
    from tests.test_stylization2d import _write_images

    root = tmp_path_factory.mktemp("images_2d")
    _write_images(root / "contents", [(45, 61), (40, 40)], 0)
    _write_images(root / "styles", [(50, 50), (48, 64)], 1)
    for name in TRAINERS_2D:
        assert _run_2d(root, root / "reference", name) == 0
    return root


def _run_2d(root, out, name, settings=None):
    from stylizednerf.__main__ import main

    stage, defaults = TRAINERS_2D[name][:2]
    contents = ["--contents", str(root / "contents")] if name == "decoder" else []
    return main([stage, *contents, "--styles", *map(str, sorted((root / "styles").glob("*.png"))),
                 "--out", str(out / "stylization2d"), "--checkpoint-dir", str(out / "ckpt"), "--no-progress",
                 "--settings", json.dumps(settings or defaults)])


def _killed_2d(root, out, name, monkeypatch):
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 1)  # half-way
        with pytest.raises(Killed):
            _run_2d(root, out, name)
    assert (out / "ckpt" / TRAINERS_2D[name][2]).is_file()


def _result_2d(out, name):
    _, _, _, _, _, file, key = TRAINERS_2D[name]
    return torch.load(out / "stylization2d" / file, weights_only=True)[key]


@pytest.mark.parametrize("name", list(TRAINERS_2D))
@pytest.mark.parametrize("change", ["none", "runtime"])
def test_2d_kill_and_resume_is_bit_identical(images_2d, tmp_path, monkeypatch, capsys, name, change):
    _killed_2d(images_2d, tmp_path, name, monkeypatch)
    capsys.readouterr()
    settings = TRAINERS_2D[name][1]
    if change == "runtime":
        settings = {**settings, **TRAINERS_2D[name][4]}
    assert _run_2d(images_2d, tmp_path, name, settings) == 0
    assert "resumed at iteration" in capsys.readouterr().out
    assert_same_tensors(_result_2d(tmp_path, name), _result_2d(images_2d / "reference", name))
    if name == "vae":
        latents = (tmp_path / "stylization2d" / "style_latents.json").read_text()
        assert latents == (images_2d / "reference" / "stylization2d" / "style_latents.json").read_text()
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize("name", list(TRAINERS_2D))
@pytest.mark.parametrize("change", ["style image", "setting", "truncated"])
def test_2d_checkpoint_of_another_run_is_set_aside(images_2d, tmp_path, monkeypatch, capsys, name, change):
    root = tmp_path / "inputs"
    shutil.copytree(images_2d / "contents", root / "contents")
    shutil.copytree(images_2d / "styles", root / "styles")
    _killed_2d(root, tmp_path, name, monkeypatch)
    capsys.readouterr()
    settings = TRAINERS_2D[name][1]
    if change == "style image":  # same path, other bytes
        from PIL import Image

        image = root / "styles" / "001.png"
        Image.fromarray(255 - np.asarray(Image.open(image))).save(image)
    elif change == "setting":
        settings = {**settings, **TRAINERS_2D[name][3]}
    else:
        truncate(tmp_path / "ckpt" / TRAINERS_2D[name][2])
    assert _run_2d(root, tmp_path, name, settings) == 0
    out = capsys.readouterr().out
    expected = {"style image": "other inputs.styles", "setting": "other settings.", "truncated": "cannot be read"}
    assert expected[change] in out and "starting afresh" in out and "resumed" not in out
    if change == "truncated":  # a fresh start is the uninterrupted run
        assert_same_tensors(_result_2d(tmp_path, name), _result_2d(images_2d / "reference", name))
    assert not (tmp_path / "ckpt").exists()


# ---- the stylized NeRF: stylize and stylize-joint ----------------------------------------------

STYLIZE = {"device": "cpu", "seed": 0, "rounds": 2, "decoder_steps": 2, "nerf_steps": 3, "batch_views": 2,
           "rays": 256, "hidden": 16, "layers": 2, "encoding_levels": 4, "encoding_log2_table": 10,
           "encoding_max_resolution": 64, "mimic_2d_pixels": 64, "chunk": 4096, "checkpoint_every": 2,
           "previews": 2}
JOINT = {"device": "cpu", "seed": 0, "rays": 256, "hidden": 16, "layers": 2, "chunk": 4096, "joint_steps": 6,
         "checkpoint_every": 2, "encoding_levels": 4, "encoding_log2_table": 10, "encoding_max_resolution": 64}
RUNTIME_3D = {"chunk": 1024, "previews": 1, "cuda_graph": False, "checkpoint_every": 3}


@pytest.fixture(scope="module")
def stylize_inputs(tmp_path_factory):
    """A small demo scene's NeRF (untrained), its views, a decoder, latents, two style images, and
    the stylize / stylize-joint outputs of uninterrupted runs."""
    from PIL import Image

    from stylizednerf.__main__ import main
    from stylizednerf.cameras import read_cameras
    from stylizednerf.demo.cli import write_demo_scene
    from stylizednerf.demo.styles import demo_style
    from stylizednerf.nerf.render import checkpoint_payload
    from stylizednerf.stylization2d.decoder import Decoder
    from tests.test_stylize_training import _tiny_nerf

    root = tmp_path_factory.mktemp("stylize_inputs")
    write_demo_scene(root / "scene", {"width": 32, "height": 24, "views": 4, "supersample": 1})
    cameras = read_cameras(root / "scene" / "cameras.json")
    torch.save(checkpoint_payload(_tiny_nerf(cameras, holdout_every=4)), root / "model.pt")
    torch.manual_seed(0)
    torch.save({"decoder": Decoder().state_dict()}, root / "decoder.pt")
    (root / "style_latents.json").write_text(json.dumps({"strokes": {"mu": [0.5] * 32, "sigma": [0.1] * 32},
                                                         "mosaic": {"mu": [-0.5] * 32, "sigma": [0.1] * 32}}))
    for name in ("strokes", "mosaic"):
        Image.fromarray(demo_style(name, 48)).save(root / f"{name}.png")
    assert main(["render-views", "--model", str(root / "model.pt"), "--cameras", str(root / "scene" / "cameras.json"),
                 "--out", str(root / "views"), "--settings", json.dumps({"device": "cpu", "seed": 0})]) == 0
    for stage in ("stylize", "stylize-joint"):
        assert _run_3d(stage, root, root / "reference") == 0
    return root


def _run_3d(stage, root, out, settings=None):
    from stylizednerf.__main__ import main

    common = ["--views", str(root / "views"), "--model", str(root / "model.pt"),
              "--latents", str(root / "style_latents.json"), "--out", str(out / stage),
              "--checkpoint-dir", str(out / "ckpt")]
    if stage == "stylize":
        args = [*common, "--decoder", str(root / "decoder.pt"), "--style-image", str(root / "strokes.png"),
                "--style", "strokes"]
    else:
        args = [*common, "--styles", "strokes", "mosaic", "--style-images", str(root / "strokes.png"),
                str(root / "mosaic.png"), "--decoders", str(root / "decoder.pt"), str(root / "decoder.pt")]
    defaults = STYLIZE if stage == "stylize" else JOINT
    return main([stage, *args, "--settings", json.dumps(settings or defaults)])


def _killed_3d(stage, root, out, monkeypatch):
    with monkeypatch.context() as patch:
        kill_after_saves(patch, 2)  # stylize: mid-way through round 0's NeRF phase; joint: after step 4 of 6
        with pytest.raises(Killed):
            _run_3d(stage, root, out)
    assert (out / "ckpt" / "state.pt").is_file()


def _result_3d(out, stage):
    model = torch.load(out / stage / "model.pt", weights_only=True)
    result = {"style_module": model["style_module"], "latents": model["latents"]}
    if stage == "stylize":
        result["decoder"] = torch.load(out / "stylize" / "decoder.pt", weights_only=True)["decoder"]
    return result


@pytest.mark.parametrize("stage", ["stylize", "stylize-joint"])
@pytest.mark.parametrize("change", ["none", "runtime"])
def test_stylize_kill_and_resume_is_bit_identical(stylize_inputs, tmp_path, monkeypatch, capsys, stage, change):
    _killed_3d(stage, stylize_inputs, tmp_path, monkeypatch)
    capsys.readouterr()
    settings = STYLIZE if stage == "stylize" else JOINT
    if change == "runtime":  # the stage's runtime fields (stylize-joint has no previews)
        from stylizednerf.settings import STAGES

        settings = {**settings, **{k: v for k, v in RUNTIME_3D.items() if k in STAGES[stage].runtime_names()}}
    assert _run_3d(stage, stylize_inputs, tmp_path, settings) == 0
    assert "resuming from" in capsys.readouterr().out
    assert_same_tensors(_result_3d(tmp_path, stage), _result_3d(stylize_inputs / "reference", stage))
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize("stage", ["stylize", "stylize-joint"])
@pytest.mark.parametrize("change", ["input", "setting", "truncated"])
def test_stylize_checkpoint_of_another_run_is_set_aside(stylize_inputs, tmp_path, monkeypatch, capsys, stage, change):
    root = tmp_path / "inputs"
    shutil.copytree(stylize_inputs, root, ignore=shutil.ignore_patterns("reference"))
    _killed_3d(stage, root, tmp_path, monkeypatch)
    capsys.readouterr()
    settings = STYLIZE if stage == "stylize" else JOINT
    if change == "input":  # same path, other bytes: the style image (stylize) or a decoder (joint)
        from PIL import Image

        from stylizednerf.stylization2d.decoder import Decoder

        if stage == "stylize":
            Image.fromarray(255 - np.asarray(Image.open(root / "strokes.png"))).save(root / "strokes.png")
        else:
            torch.manual_seed(1)
            torch.save({"decoder": Decoder().state_dict()}, root / "decoder.pt")
    elif change == "setting":  # the style module's shape: resuming would be a size-mismatch error
        settings = {**settings, "hidden": 32}
    else:
        truncate(tmp_path / "ckpt" / "state.pt")
    assert _run_3d(stage, root, tmp_path, settings) == 0
    out = capsys.readouterr().out
    expected = {"input": "other inputs.style_image" if stage == "stylize" else "other inputs.decoders",
                "setting": "other settings.hidden", "truncated": "cannot be read"}[change]
    assert expected in out and "starting afresh" in out and "resuming" not in out
    if change == "truncated":  # a fresh start is the uninterrupted run
        assert_same_tensors(_result_3d(tmp_path, stage), _result_3d(stylize_inputs / "reference", stage))
    assert not (tmp_path / "ckpt").exists()


# ---- a real SIGKILL at a random step, per trainer (pretrain-nerf: test_bad_input_files.py) ------

def _sigkill_args(name, root, out):
    """(stage, arguments, settings, checkpoint file) of a run long enough to be killed part-way."""
    if name in TRAINERS_2D:
        stage, settings, ckpt = TRAINERS_2D[name][:3]
        settings = {**settings, "iterations": 40, "checkpoint_every": 2} if name == "decoder" else \
            {**settings, "iterations": 3000, "checkpoint_every": 100}
        contents = ["--contents", str(root / "contents")] if name == "decoder" else []
        args = [*contents, "--styles", *map(str, sorted((root / "styles").glob("*.png"))),
                "--out", str(out / "stylization2d"), "--checkpoint-dir", str(out / "ckpt"), "--no-progress"]
        return stage, args, settings, out / "ckpt" / ckpt
    settings = {**STYLIZE, "nerf_steps": 40}  # with the 3D style term (its default weight)
    args = ["--views", str(root / "views"), "--model", str(root / "model.pt"), "--latents",
            str(root / "style_latents.json"), "--out", str(out / "stylize"), "--checkpoint-dir", str(out / "ckpt"),
            "--decoder", str(root / "decoder.pt"), "--style-image", str(root / "strokes.png"), "--style", "strokes"]
    return "stylize", args, settings, out / "ckpt" / "state.pt"


def sigkill_after_first_checkpoint(args: list, checkpoint, within: float) -> tuple[int, str]:
    """Run ``python -m stylizednerf *args`` (one thread) and SIGKILL it (no handler runs) at a
    random moment up to ``within`` s after ``checkpoint`` first exists: (exit status, stderr)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    project = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(project) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "stylizednerf", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not Path(checkpoint).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(np.random.default_rng().uniform(0.0, within))  # a random step after the first checkpoint
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=30), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("name", ["decoder", "vae", "stylize"])
def test_sigkill_at_a_random_step_resumes_bit_identical(images_2d, stylize_inputs, tmp_path, capsys, name):
    """The process is killed with SIGKILL (no handler runs) at a random moment after its first
    checkpoint; the rerun resumes from what is on disk and ends with an uninterrupted run's
    weights, leaving no checkpoint and no temporary behind."""
    import signal

    from stylizednerf.__main__ import main

    root = stylize_inputs if name == "stylize" else images_2d
    stage, args, settings, ckpt = _sigkill_args(name, root, tmp_path / "killed")
    status, stderr = sigkill_after_first_checkpoint([stage, *args, "--settings", json.dumps(settings)], ckpt, 0.1)
    assert status == -signal.SIGKILL, f"finished before the kill: {stderr[-500:]}"
    assert ckpt.is_file()
    capsys.readouterr()
    assert main([stage, *args, "--settings", json.dumps(settings)]) == 0  # the rerun
    said = capsys.readouterr().out
    assert "resum" in said, said[-500:]
    _, reference_args, _, _ = _sigkill_args(name, root, tmp_path / "reference")
    assert main([stage, *reference_args, "--settings", json.dumps(settings)]) == 0  # uninterrupted
    if name == "stylize":
        assert_same_tensors(_result_3d(tmp_path / "killed", "stylize"), _result_3d(tmp_path / "reference", "stylize"))
    else:
        assert_same_tensors(_result_2d(tmp_path / "killed", name), _result_2d(tmp_path / "reference", name))
    assert not ckpt.parent.exists()
    assert not [p for p in (tmp_path / "killed").rglob(".*")]  # no temporary of the killed run left
