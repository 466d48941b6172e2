"""Bad files and faults (issue 16): photos, styles, weights, checkpoints, permissions and kills.

Every case runs a stage's entry point as ``python -m stylizednerf <stage>`` would (in-process,
one case as a real process) and checks the exit (a one-line ``SystemExit`` message, i.e. status 1
with that line on stderr), that the line names the file and the problem, and that nothing was
written: no output, no hidden temporary. Resuming after a kill mid-training is tested per trainer
in test_checkpoint.py (bit-identical on CPU); here the kills are of the final writes.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylizednerf.__main__ import stage_main
from stylizednerf.checkpoint import Checkpoint, fingerprint
from stylizednerf.fileio import atomic_dir, atomic_save_torch, atomic_write_json, check_writable
from stylizednerf.nerf.model import NerfModel, resolve_config
from stylizednerf.nerf.rays import SceneSpace
from stylizednerf.nerf.render import checkpoint_payload
from test_nerf import TINY, _camera_set

PROJECT = Path(__file__).resolve().parents[1]


def fails(stage: str, *argv) -> str:
    """Run ``stage`` in-process; return its one-line error (the process would exit 1 with it)."""
    with pytest.raises(SystemExit) as info:
        stage_main(stage)([str(a) for a in argv])
    line = info.value.code
    assert isinstance(line, str), f"exit code {line!r}, not a one-line message"  # str: exit status 1
    assert line.startswith("error: ") and "\n" not in line, line
    return line


def nothing_written(folder: Path, *kept: Path) -> None:
    """No file or folder under ``folder`` but the inputs ``kept`` (no output, no temporary)."""
    found = {p for p in folder.rglob("*")}
    allowed = set(kept) | {p for k in kept for p in k.parents}
    assert found <= allowed, sorted(str(p.relative_to(folder)) for p in found - allowed)


def image(path, size=(32, 32), seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
        path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    return path


def truncated(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.fixture
def nerf_file(tmp_path):
    path = tmp_path / "nerf" / "model.pt"
    path.parent.mkdir()
    torch.save(checkpoint_payload(NerfModel(SceneSpace.from_cameras(_camera_set()), resolve_config(TINY))), path)
    return path


class _Opens:
    """Pickles as a call to open(): a file that runs code when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---- photos ------------------------------------------------------------------------------

def test_16_bit_grey_photo_trains_on_its_levels_not_white(tmp_path):
    from stylizednerf.nerf.train import load_image

    path = tmp_path / "grey16.png"
    levels = np.array([[0, 1000, 30000, 65535]] * 2, dtype=np.uint16)
    Image.fromarray(levels).save(path)
    assert Image.open(path).mode.startswith("I;16")
    rgb = load_image(path, 4, 2)
    expected = np.round(levels * 255.0 / 65535.0) / 255.0
    assert np.allclose(rgb, expected[..., None].repeat(3, -1), atol=1e-6)


def test_animated_photo_is_named_by_the_poses_stage(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    paths = [image(photos / f"{i}.png", (16, 12), i) for i in range(3)]
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(photos / "1.png", save_all=True, append_images=frames[1:])  # an APNG
    line = fails("poses", "--scene", "s", "--source", photos, "--out", tmp_path / "out")
    assert line.endswith("unreadable or truncated image(s): 1.png (animated or multi-page image (2 frames); "
                         "give one still image)")
    nothing_written(tmp_path, *paths, tmp_path / "out")  # the scene's folder, empty (as Snakemake makes it)
    assert list((tmp_path / "out").iterdir()) == []


def test_poses_removes_the_build_folder_a_killed_run_left(tmp_path):
    out = tmp_path / "out"
    leftover = out / ".poses.partial-k1ll3d" / "images_work"
    leftover.mkdir(parents=True)
    (leftover / "0.png").write_bytes(b"half")
    photos = tmp_path / "photos"
    photos.mkdir()
    kept = [image(photos / f"{i}.png", (16, 12), i) for i in range(2)]
    assert "need at least 3" in fails("poses", "--scene", "s", "--source", photos, "--out", out)
    assert list(out.iterdir()) == []  # the dead run's build folder is gone, nothing new left
    nothing_written(tmp_path, *kept, out)


# ---- style images (prepare-style) -------------------------------------------------------

def _animated(path):
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    return path


STYLES = {
    "truncated jpeg": (lambda d: truncated(image(d / "s.jpg", (64, 64))), "cannot be read: cannot read image ("),
    "not an image": (lambda d: (d / "s.png").write_bytes(b"hello") and d / "s.png", "cannot identify image file"),
    "animated gif": (lambda d: _animated(d / "s.gif"), "animated or multi-page image (2 frames)"),
    "1x1": (lambda d: image(d / "s.png", (1, 1)), "1x1 px, a side below the VGG encoder's minimum of 16 px"),
    "3000x3": (lambda d: image(d / "s.png", (3000, 3)), "3000x3 px, sides further apart than 10:1"),
}


@pytest.mark.parametrize("case", sorted(STYLES))
def test_bad_style_image_is_refused_by_prepare_style(tmp_path, case):
    make, problem = STYLES[case]
    source = make(tmp_path)
    out = tmp_path / "styles" / "mine.png"
    line = fails("prepare-style", "--name", "mine", "--source", source, "--out", out)
    assert line.startswith(f"error: style image '{source}'") and problem in line, line
    nothing_written(tmp_path, source)


# ---- weights: model.pt, decoder.pt, a stylize model.pt ----------------------------------

def _nerf_without_a_weight(d, nerf):
    payload = torch.load(nerf, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, d / "bad.pt")
    return d / "bad.pt"


def _pickled_object(d, nerf):
    torch.save({"format": "stylizednerf-nerf/1", "space": _Opens(d / "opened")}, d / "bad.pt")
    return d / "bad.pt"


NERF_FILES = {
    "truncated": (lambda d, nerf: truncated(nerf, 0.6), "truncated (the torch file ends early); expected a NeRF model"),
    "empty": (lambda d, nerf: (d / "bad.pt").write_bytes(b"") and d / "bad.pt" or d / "bad.pt",
              "empty file; expected a NeRF model"),
    "an image": (lambda d, nerf: image(d / "bad.pt"), "not a torch file; expected a NeRF model"),
    "a decoder": (lambda d, nerf: torch.save({"decoder": {}}, d / "bad.pt") or d / "bad.pt",
                  "not a NeRF model (no stylizednerf-nerf/1 tag; pretrain-nerf writes model.pt)"),
    "missing weights": (_nerf_without_a_weight, "not a NeRF model (its weights do not fit: Error(s) in loading"),
    "pickled object": (_pickled_object, "holds pickled Python objects, not only weights (refused)"),
    "missing": (lambda d, nerf: d / "none.pt", "NeRF model not found"),
}


@pytest.mark.parametrize("case", sorted(NERF_FILES))
def test_bad_nerf_model_is_named_by_render_views(tmp_path, nerf_file, case):
    make, problem = NERF_FILES[case]
    model = make(tmp_path, nerf_file)
    line = fails("render-views", "--model", model, "--cameras", tmp_path / "cameras.json", "--out", tmp_path / "views")
    assert line == f"error: {model}: {problem}" or line.startswith(f"error: {model}: {problem}"), line
    assert not (tmp_path / "opened").exists()  # the pickle's code never ran
    nothing_written(tmp_path, *[p for p in (nerf_file, model) if p.exists()])


DECODER_FILES = {
    "truncated": (lambda d, nerf: truncated(atomic_save_torch(d / "decoder.pt", {"decoder": {"w": torch.zeros(4096)}})
                                            or d / "decoder.pt"), "truncated (the torch file ends early); expected a decoder"),
    "a NeRF model": (lambda d, nerf: nerf, "not a decoder (no 'decoder' weights; pretrain-decoder writes decoder.pt)"),
    "other weights": (lambda d, nerf: torch.save({"decoder": {"w": torch.zeros(2)}}, d / "decoder.pt") or d / "decoder.pt",
                      "not a decoder (its weights do not fit: Error(s) in loading"),
}


@pytest.mark.parametrize("case", sorted(DECODER_FILES))
def test_bad_decoder_is_named_by_stylize_2d(tmp_path, nerf_file, case):
    make, problem = DECODER_FILES[case]
    decoder = make(tmp_path, nerf_file)
    content, style = image(tmp_path / "content.png"), image(tmp_path / "style.png", seed=1)
    line = fails("stylize-2d", content, "--decoder", decoder, "--style", style, "--out", tmp_path / "out")
    assert line.startswith(f"error: {decoder}: {problem}"), line
    nothing_written(tmp_path, nerf_file, decoder, content, style)


@pytest.mark.parametrize("case", ["a decoder", "truncated"])
def test_bad_stylize_model_is_named_by_render(tmp_path, nerf_file, case):
    stylized = tmp_path / "stylize"
    stylized.mkdir()
    model = stylized / "model.pt"
    torch.save({"decoder": {"w": torch.zeros(4096)}}, model)
    if case == "truncated":
        truncated(model)
    line = fails("render", "--stylized", stylized, "--model", nerf_file, "--cameras", tmp_path / "cameras.json",
                 "--out", tmp_path / "render")
    problem = {"a decoder": "not a stylize model (no style module and latents)",
               "truncated": "truncated (the torch file ends early); expected a stylize model"}[case]
    assert line == f"error: {model}: {problem}"
    nothing_written(tmp_path, nerf_file, model)


def test_a_bad_model_file_is_one_line_on_stderr_of_the_process(tmp_path, nerf_file):
    truncated(nerf_file)
    env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "stylizednerf", "render-views", "--model", str(nerf_file),
                             "--cameras", str(tmp_path / "cameras.json"), "--out", str(tmp_path / "views")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {nerf_file}: truncated (the torch file ends early); expected a NeRF model"]
    nothing_written(tmp_path, nerf_file)


# ---- checkpoints -------------------------------------------------------------------------

@pytest.mark.parametrize("case, why", [("truncated", "truncated (the torch file ends early)"),
                                       ("pickled object", "holds pickled Python objects, not only weights (refused)")])
def test_unusable_checkpoint_is_set_aside_with_a_note_naming_it(tmp_path, case, why):
    path = tmp_path / "ckpt" / "state.pt"
    notes = []
    checkpoint = Checkpoint(path, fingerprint("test/1", {"lr": 1.0}, {}), log=notes.append)
    checkpoint.save({"step": torch.tensor(3)})
    if case == "truncated":
        truncated(path)
    else:
        torch.save({"format": "stylizednerf-checkpoint/1", "state": _Opens(tmp_path / "opened")}, path)
    assert checkpoint.load() is None  # training starts afresh
    assert notes == [f"note: checkpoint {path} cannot be read ({why}); moved to state.pt.stale, starting afresh"]
    assert not path.exists() and path.with_name("state.pt.stale").is_file()
    assert not (tmp_path / "opened").exists()
    (path.parent / ".state.pt.partial-k1ll3d.pt").write_bytes(b"half")  # a write a SIGKILL cut short
    checkpoint.remove()  # a finished job leaves nothing of it
    assert not (tmp_path / "ckpt").exists()


# ---- permissions -------------------------------------------------------------------------

def _trainer_args(tmp_path, out):
    style = image(tmp_path / "style.png")
    return {
        "pretrain-nerf": ["--cameras", tmp_path / "cameras.json", "--out", out],
        "pretrain-decoder": ["--styles", style, "--out", out, "--settings", '{"device": "cpu"}'],
        "train-vae": ["--styles", style, "--out", out, "--settings", '{"device": "cpu"}'],
        "stylize": ["--views", tmp_path / "views", "--model", tmp_path / "m.pt", "--decoder", tmp_path / "d.pt",
                    "--latents", tmp_path / "l.json", "--style-image", style, "--style", "s", "--out", out],
        "stylize-joint": ["--views", tmp_path / "views", "--model", tmp_path / "m.pt", "--latents", tmp_path / "l.json",
                          "--styles", "s", "--style-images", style, "--decoders", tmp_path / "d.pt", "--out", out],
    }, style


@pytest.mark.parametrize("stage", ["pretrain-nerf", "pretrain-decoder", "train-vae", "stylize", "stylize-joint"])
def test_unwritable_output_folder_fails_before_training(tmp_path, stage):
    # A file where the results folder should be: unwritable even for root (chmod is not).
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    out = blocker / "scene" / "out"
    args, style = _trainer_args(tmp_path, out)
    start = time.perf_counter()
    line = fails(stage, *args[stage])
    assert line.startswith("error: ") and "output folder is not writable" in line and str(blocker) in line, line
    assert time.perf_counter() - start < 30  # refused at once, not after training
    nothing_written(tmp_path, blocker, style)


def test_check_writable_creates_nothing(tmp_path):
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_honour_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "cameras.json", {"a": 1})
        with atomic_dir(tmp_path / "nerf") as tmp:
            atomic_save_torch(tmp / "model.pt", {"w": torch.zeros(1)})
            (tmp / "test").mkdir()
    finally:
        os.umask(old)
    assert (tmp_path / "cameras.json").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "nerf").stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "nerf" / "model.pt").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "nerf" / "test").stat().st_mode & 0o777 == dir_mode


# ---- kills -------------------------------------------------------------------------------

def test_sigkill_leftovers_are_removed_by_the_next_write(tmp_path):
    from test_sigterm import start_writer

    proc = start_writer(tmp_path, "nerf", "metrics.json")
    try:
        proc.send_signal(signal.SIGKILL)  # cannot be caught: the temporaries stay
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(".partial-" in name for name in left), left
    # the next run of the stage writes the same outputs: the dead job's temporaries go
    with atomic_dir(tmp_path / "nerf") as tmp:
        (tmp / "model.pt").write_bytes(b"whole")
    atomic_write_json(tmp_path / "metrics.json", {"psnr": 1.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "nerf"]
    assert (tmp_path / "nerf" / "model.pt").read_bytes() == b"whole"
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"psnr": 1.0}


def test_sigkill_at_a_random_step_of_pretrain_nerf_resumes_bit_identical(tmp_path, capsys):
    """A real SIGKILL (not an exception) at a random step after the first checkpoint: the rerun
    resumes from the checkpoint on disk and ends with the uninterrupted run's weights (CPU)."""
    from stylizednerf.cameras import write_cameras
    from stylizednerf.nerf.train import main
    from test_checkpoint import NERF, sigkill_after_first_checkpoint
    from test_nerf import _write_images

    settings = json.dumps({**NERF, "fast": {**NERF["fast"], "iterations": 300}})
    cams = _camera_set(tmp_path / "images", count=4)
    _write_images(cams)
    write_cameras(tmp_path / "cameras.json", cams)

    def args(out):
        return ["--cameras", str(tmp_path / "cameras.json"), "--out", str(tmp_path / out), "--no-progress",
                "--checkpoint-dir", str(tmp_path / f"{out}_ckpt"), "--settings", settings]

    status, stderr = sigkill_after_first_checkpoint(["pretrain-nerf", *args("nerf")], tmp_path / "nerf_ckpt" / "last.pt",
                                                    0.2)
    assert status == -signal.SIGKILL, stderr
    assert not (tmp_path / "nerf").exists()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the killed run (same CPU kernels)
    try:
        capsys.readouterr()
        assert main(args("nerf")) == 0  # the rerun
        assert "resumed at step" in capsys.readouterr().err
        assert main(args("reference")) == 0  # an uninterrupted run
    finally:
        torch.set_num_threads(threads)
    resumed = torch.load(tmp_path / "nerf" / "model.pt", weights_only=True)["state_dict"]
    reference = torch.load(tmp_path / "reference" / "model.pt", weights_only=True)["state_dict"]
    assert resumed.keys() == reference.keys()
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cameras.json", "images", "nerf", "reference"]
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary of the killed run left


def test_a_stage_writing_into_an_unwritable_folder_says_so_in_one_line(tmp_path, nerf_file):
    """Stages that do not train (here render-path) meet the folder at their first write."""
    from stylizednerf.cameras import write_cameras

    cams = _camera_set(tmp_path / "images", count=3)
    write_cameras(tmp_path / "cameras.json", cams)
    (tmp_path / "results").write_text("a file")
    line = fails("render-path", "--model", nerf_file, "--cameras", tmp_path / "cameras.json",
                 "--out", tmp_path / "results" / "path", "--settings", '{"device": "cpu"}')
    assert line.startswith(f"error: {tmp_path / 'results'}: output folder is not writable (")
    nothing_written(tmp_path, nerf_file, tmp_path / "cameras.json", tmp_path / "results")
