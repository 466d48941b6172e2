"""SfM with pycolmap against known cameras: the generated demo, LLFF fern, a narrow-baseline capture."""

import json

import numpy as np
import pytest
from PIL import Image

from stylizednerf.cameras import read_cameras
from stylizednerf.demo.cli import write_demo_scene
from stylizednerf.poses import cli
from stylizednerf.poses.accuracy import match_and_compare
from stylizednerf.poses.importers import import_llff

SFM = {"seed": 0, "num_threads": 1}  # one thread: COLMAP's RANSAC and mapping are then repeatable (colmap.reproducible)


def run_sfm(source, out, downscale=1, **settings):
    cli.main(["--scene", "t", "--source", str(source), "--downscale", str(downscale), "--out", str(out),
              "--settings", json.dumps({**SFM, **settings})])
    return read_cameras(out / "poses" / "cameras.json"), json.loads((out / "poses" / "report.json").read_text())


def errors_against(result, reference_cameras):
    return match_and_compare({c.file: c.camera_to_world for c in result.cameras},
                             {c.file: c.camera_to_world for c in reference_cameras})


def check_outputs(out, result, count):
    """Every output exists and agrees with cameras.json."""
    assert len(result) == count
    for camera in result.cameras:
        with Image.open(result.image_dir / camera.file) as image:
            assert image.size == (camera.width, camera.height)
        assert 0 < camera.near < camera.far
    assert np.load(out / "poses" / "poses_bounds.npy").shape == (count, 17)
    assert len(json.loads((out / "poses" / "transforms.json").read_text())["frames"]) == count
    assert (out / "poses" / "sparse" / "0" / "images.bin").is_file()
    assert (out / "poses" / "cameras.png").stat().st_size > 10_000
    assert not list(out.glob(".poses-build-*"))


def test_fern_images_8_all_registered_and_close_to_llff_poses(tmp_path, data_root):
    fern = data_root / "scenes" / "fern"
    result, report = run_sfm(fern, tmp_path / "fern", downscale=8)
    check_outputs(tmp_path / "fern", result, 20)
    assert report["registered"] == report["total"] == 20
    assert report["mean_reprojection_error_px"] < 1.0 and report["points"] > 1000
    errors = errors_against(result, import_llff(fern / "poses_bounds.npy", fern / "images_8").cameras)
    # Measured: rotation mean 0.34, max 0.41 deg; centre mean 0.96 % of the camera spread.
    assert errors["rotation_mean_deg"] < 1.0 and errors["rotation_max_deg"] < 2.0
    assert errors["centre_mean_rel"] < 0.02


@pytest.fixture(scope="module")
def demo_default(tmp_path_factory):
    """The demo exactly as config.yaml makes it: 20 views at 320x240 (working images 160x120)."""
    import yaml

    from stylizednerf.paths import PROJECT_ROOT
    from stylizednerf.settings import DemoSettings

    config = yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text())
    folder = tmp_path_factory.mktemp("demo") / "scene"
    write_demo_scene(folder, DemoSettings.from_config(config).to_dict())  # the demo section's scene keys
    return folder / "cameras.json", config["scenes"]["demo"]["downscale"]


@pytest.mark.slow
def test_demo_scene_all_registered_and_accurate(tmp_path, demo_default):
    cameras_file, downscale = demo_default
    result, report = run_sfm(cameras_file, tmp_path / "demo", downscale=downscale)
    truth = read_cameras(cameras_file).cameras
    check_outputs(tmp_path / "demo", result, len(truth))
    assert report["registered"] == report["total"] == len(truth)
    # SfM ran on the full-size images; the working images are the downscaled copies.
    assert report["sfm_image_size"] == [truth[0].width, truth[0].height]
    assert result.cameras[0].width == truth[0].width // downscale
    assert result.cameras[0].fx == pytest.approx(truth[0].fx / downscale, rel=0.02)
    errors = errors_against(result, truth)
    # Measured (one thread, 20 views, SfM at 320x240): rotation mean 0.31, max 0.41 deg; centre mean
    # 0.57 % of the RMS camera spread (0.21 % of the capture's extent). SfM on the 160x120 working
    # images instead gives ~2 deg: the reason the stage runs SfM at the source size.
    assert errors["rotation_mean_deg"] < 0.5
    assert errors["centre_mean_rel"] < 0.01
    assert report["reference"]["rotation_mean_deg"] == pytest.approx(errors["rotation_mean_deg"])


@pytest.mark.slow
def test_reproducible_sfm_gives_the_same_poses_whatever_the_job_threads(tmp_path, demo_default):
    """colmap.reproducible (the default) runs SfM in one thread even where the job has more: with two
    threads COLMAP gave other poses on every run of the demo (measured: three runs, three results)."""
    cameras_file, downscale = demo_default
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        cli.main(["--scene", "t", "--source", str(cameras_file), "--downscale", str(downscale), "--out", str(out),
                  "--threads", "2", "--settings", json.dumps({"seed": 0, "num_threads": -1})])
        runs.append((out / "poses" / "cameras.json").read_bytes())
    assert runs[0] == runs[1]
    assert cli.sfm_options({"reproducible": False, "num_threads": -1}, 2).num_threads == 2
    assert cli.sfm_options({"reproducible": True, "num_threads": 8}, 2).num_threads == 1


@pytest.mark.slow
def test_narrow_baseline_needs_the_relaxed_retry(tmp_path):
    scene = tmp_path / "narrow"
    write_demo_scene(scene, {"width": 160, "height": 120, "views": 9, "supersample": 1, "baseline": 0.1, "seed": 0})
    # COLMAP's defaults (no relaxed retries) register too few of the 9 views: the stage fails...
    with pytest.raises(SystemExit) as error:
        run_sfm(scene / "cameras.json", tmp_path / "defaults", relaxed_init_min_tri_angles=[])
    assert "of 9 images" in str(error.value) and not (tmp_path / "defaults" / "poses").exists()
    # ...while the relaxed retries register all of them, keeping the model with the most images.
    result, report = run_sfm(scene / "cameras.json", tmp_path / "relaxed")
    assert report["registered"] == 9 and len(report["attempts"]) >= 2
    best = max(max(a["registered_per_model"].values(), default=0) for a in report["attempts"])
    assert best == 9 and max(report["attempts"][0]["registered_per_model"].values(), default=0) < 9
    assert report["points"] > 0 and len(result) == 9
    # Not asserted: accuracy. At this baseline (capture spans ~1 degree, 160x120) the relaxed model
    # is poor (measured: 8 points, relative rotations 5.3 deg off); registration is what is tested.
