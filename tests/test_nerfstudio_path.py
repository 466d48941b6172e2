"""nerfstudio camera_path.json in and out (stylize/nerfstudio_path.py) and depth previews."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from stylizednerf.cameras import Camera, CameraSet
from stylizednerf.stylize.nerfstudio_path import from_camera_path, to_camera_path


def _training(width=32, height=24, count=5):
    cams = []
    for k in range(count):
        c2w = np.eye(4)
        c2w[0, 3] = 0.1 * k
        cams.append(Camera(f"{k}.png", width, height, 30.0, 30.0, width / 2, height / 2, c2w, 0.5, 6.0))
    return CameraSet(cams, "images", "forward")


def test_a_rendered_path_round_trips_through_nerfstudio_format():
    from stylizednerf.stylize.camera_path import render_path

    training = _training()
    path = render_path(training, 7)
    data = json.loads(json.dumps(to_camera_path(path, fps=24)))  # what the file holds
    assert data["render_width"] == 32 and data["render_height"] == 24 and len(data["camera_path"]) == 7
    assert data["seconds"] == pytest.approx(7 / 24)
    back = from_camera_path(data, training, "frames")
    for a, b in zip(path.cameras, back.cameras):
        assert a.file == b.file
        np.testing.assert_allclose(b.camera_to_world, a.camera_to_world, atol=1e-12)
        assert (b.width, b.height) == (a.width, a.height)
        assert b.fx == pytest.approx(a.fy) and b.fy == pytest.approx(a.fy)
        assert (b.cx, b.cy) == (16.0, 12.0) and (b.near, b.far) == (0.5, 6.0)


def test_exported_poses_use_opengl_axes_and_vertical_fov():
    """nerfstudio (OpenGL axes): the camera looks along its -z and its y is up; our cameras
    (OpenCV) look along +z with y down. fov is vertical: fy = 0.5 H / tan(fov / 2)."""
    c2w = np.eye(4)
    c2w[:3, 3] = [1.0, 2.0, 3.0]
    path = CameraSet([Camera("000.png", 40, 20, 25.0, 25.0, 20.0, 10.0, c2w, 0.1, 5.0)], "frames")
    entry = to_camera_path(path, 30)["camera_path"][0]
    exported = np.array(entry["camera_to_world"]).reshape(4, 4)  # row-major, as nerfstudio reads it
    np.testing.assert_allclose(exported[:3, 2], [0.0, 0.0, -1.0])  # -(forward)
    np.testing.assert_allclose(exported[:3, 1], [0.0, -1.0, 0.0])  # up = -(down)
    np.testing.assert_allclose(exported[:3, 3], [1.0, 2.0, 3.0])
    assert 0.5 * 20 / math.tan(math.radians(entry["fov"]) / 2) == pytest.approx(25.0)
    assert entry["aspect"] == pytest.approx(2.0)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(camera_type="fisheye"), "camera_type 'fisheye' is not supported"),
    (lambda d: d.pop("render_width"), "needs render_width, render_height and camera_path"),
    (lambda d: d.update(camera_path=[]), "camera_path has no cameras"),
    (lambda d: d["camera_path"][1].pop("fov"), "camera 1: needs a 16-number camera_to_world and a fov"),
    (lambda d: d["camera_path"][0].update(camera_to_world=[1.0] * 15), "camera 0: needs a 16-number"),
    (lambda d: d["camera_path"][0].update(fov=180.0), "fov 180.0 not in (0, 180)"),
    (lambda d: d["camera_path"][0].update(camera_to_world=(2 * np.eye(4)).reshape(-1).tolist()),
     "camera 0: camera_to_world is not a rotation"),
])
def test_bad_camera_paths_are_refused_in_one_line(change, message):
    from stylizednerf.stylize.camera_path import render_path

    training = _training()
    data = to_camera_path(render_path(training, 3), 30)
    change(data)
    with pytest.raises(ValueError) as info:
        from_camera_path(data, training, "frames", "my_path.json")
    assert str(info.value).startswith("my_path.json: ") and message in str(info.value) and "\n" not in str(info.value)


def test_config_checks_a_scene_camera_path_before_any_job(tmp_path):
    from stylizednerf.config import ConfigError, check_config
    from stylizednerf.settings import SCHEMA_PATH

    bad = tmp_path / "path.json"
    bad.write_text(json.dumps({"render_width": 8, "render_height": 8, "camera_path": [{"fov": 50}]}))
    config = {"scenes": {"demo": {"source": "demo", "camera_path": str(bad)}}, "styles": {"strokes": "demo"}}
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA_PATH)
    assert str(info.value).startswith("config error: scenes.demo.camera_path: ")
    config["scenes"]["demo"]["camera_path"] = str(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="scenes.demo.camera_path: cannot read"):
        check_config(config, SCHEMA_PATH)


def test_depth_preview_is_near_bright_on_one_scale():
    from stylizednerf.depth_preview import depth_colors, depth_strip

    near = np.full((4, 5), 1.0)
    far = np.full((4, 5), 10.0)
    far[0, 0] = np.inf  # no surface: black
    a, b = depth_colors([near, far])
    assert a.dtype == np.uint8 and a.shape == (4, 5, 3)
    assert not np.array_equal(a[1, 1], b[1, 1])  # one scale across frames: the far frame differs
    assert tuple(b[0, 0]) == (0, 0, 0) and b[1, 1].any()
    assert depth_strip([near, far, near]).shape == (4, 15, 3)


def test_render_path_follows_a_given_camera_path_and_writes_its_files(tmp_path):
    """render-path with --camera-path renders that path (its frame count and size), and writes
    camera_path.json (which reads back as the same cameras), the depth preview and the median depth."""
    import torch

    from stylizednerf.cameras import read_cameras, write_cameras
    from stylizednerf.nerf.model import NerfModel, resolve_config
    from stylizednerf.nerf.rays import SceneSpace
    from stylizednerf.nerf.render import checkpoint_payload
    from stylizednerf.stylize.cli import main_render_path
    from tests.test_bad_input_files import TINY

    training = _training(width=16, height=12, count=3)
    write_cameras(tmp_path / "cameras.json", training)
    torch.save(checkpoint_payload(NerfModel(SceneSpace.from_cameras(training), resolve_config(TINY))),
               tmp_path / "model.pt")
    c2w = np.eye(4)
    c2w[:3, 1:3] *= -1.0  # an OpenGL camera looking along the world's +z, like the training cameras
    shifted = c2w.copy()
    shifted[0, 3] = 0.05
    wanted = {"render_width": 10, "render_height": 6, "camera_path": [
        {"camera_to_world": shifted.reshape(-1).tolist(), "fov": 40.0},
        {"camera_to_world": c2w.reshape(-1).tolist(), "fov": 40.0}]}
    (tmp_path / "wanted.json").write_text(json.dumps(wanted))
    out = tmp_path / "path"
    assert main_render_path(["--model", str(tmp_path / "model.pt"), "--cameras", str(tmp_path / "cameras.json"),
                             "--camera-path", str(tmp_path / "wanted.json"), "--out", str(out),
                             "--settings", json.dumps({"device": "cpu", "frames": 9})]) == 0
    rendered = read_cameras(out / "cameras.json")
    assert len(rendered) == 2 and (rendered.cameras[0].width, rendered.cameras[0].height) == (10, 6)
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["000.png", "001.png"]
    assert Image.open(out / "frames" / "000.png").size == (10, 6)
    written = json.loads((out / "camera_path.json").read_text())
    np.testing.assert_allclose(written["camera_path"][1]["camera_to_world"], wanted["camera_path"][1]["camera_to_world"],
                               atol=1e-12)
    assert Image.open(out / "depth.png").size == (2 * 10, 6)
    # the median depth beside the expected depth, per frame: what the NeRF renders for that camera
    from stylizednerf.nerf.render import load_nerf, render_cameras

    assert sorted(p.name for p in (out / "depth_median").iterdir()) == ["000.npy", "001.npy"]
    views = render_cameras(load_nerf(tmp_path / "model.pt"), rendered)
    for n, view in enumerate(views):
        median = np.load(out / "depth_median" / f"{n:03d}.npy")
        assert median.shape == (6, 10)
        np.testing.assert_allclose(median, view["median_depth"].numpy(), rtol=1e-5)
        np.testing.assert_allclose(np.load(out / "depth" / f"{n:03d}.npy"), view["depth"].numpy(), rtol=1e-5)
        assert not np.allclose(median, view["depth"].numpy())  # another depth than the expected one
