"""Pose importers (LLFF, transforms.json), exports, working images (EXIF, downscale), provided poses."""

import json

import numpy as np
import pytest
from PIL import Image

from stylizednerf.cameras import OPENCV_TO_OPENGL, Camera, read_cameras
from stylizednerf.poses import cli
from stylizednerf.poses.export import poses_bounds, transforms
from stylizednerf.poses.images import prepare_images
from stylizednerf.poses.importers import import_llff, import_transforms, llff_to_opencv_c2w


def write_images(folder, names, size=(64, 48), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / name)
    return [folder / n for n in names]


def some_cameras(n=4, width=64, height=48):
    rng = np.random.default_rng(5)
    cameras = []
    for i in range(n):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q *= np.sign(np.diag(r)) * np.linalg.det(q * np.sign(np.diag(r)))
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = q, rng.normal(size=3)
        cameras.append(Camera(f"{i:03d}.png", width, height, 50.0 + i, 50.0 + i, width / 2, height / 2, c2w,
                              0.5 + i, 10.0 + i))
    return cameras


def test_llff_columns_are_down_right_back():
    # An OpenCV camera looking down +z with x right, y down is, in LLFF columns: down=+y, right=+x, back=-z.
    llff = np.array([[[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 2.0], [0.0, 0.0, -1.0, 3.0]]])
    c2w = llff_to_opencv_c2w(llff)[0]
    np.testing.assert_allclose(c2w[:3, :3], np.eye(3))
    np.testing.assert_allclose(c2w[:3, 3], [1.0, 2.0, 3.0])


def test_llff_export_import_round_trip_rescales_full_resolution_focal(tmp_path):
    cameras = some_cameras()
    array = poses_bounds(cameras)
    assert array.shape == (4, 17)
    # Pretend the poses were made at 4x the resolution of images_4, as LLFF ships them.
    full = array.reshape(4, 15 + 2).copy()
    hwf = full[:, :15].reshape(4, 3, 5)
    hwf[:, :, 4] *= 4
    full[:, :15] = hwf.reshape(4, 15)
    np.save(tmp_path / "poses_bounds.npy", full)
    write_images(tmp_path / "images_4", [c.file for c in cameras])
    scene = import_llff(tmp_path / "poses_bounds.npy", tmp_path / "images_4")
    for got, want in zip(scene.cameras, cameras):
        np.testing.assert_allclose(got.camera_to_world, want.camera_to_world, atol=1e-12)
        assert (got.width, got.height, got.fx, got.fy) == (64, 48, pytest.approx(want.fx), pytest.approx(want.fx))
        assert (got.near, got.far) == (want.near, want.far)


def test_transforms_export_import_round_trip_and_opengl_axes(tmp_path):
    cameras = some_cameras()
    write_images(tmp_path / "images", [c.file for c in cameras])
    data = transforms(cameras, tmp_path / "images", tmp_path / "transforms.json")
    opengl = np.asarray(data["frames"][0]["transform_matrix"])
    np.testing.assert_allclose(opengl[:3, 1], -cameras[0].camera_to_world[:3, 1])  # OpenGL y is up
    np.testing.assert_allclose(opengl[:3, 2], -cameras[0].camera_to_world[:3, 2])  # OpenGL looks down -z
    (tmp_path / "transforms.json").write_text(json.dumps(data))
    scene = import_transforms(tmp_path / "transforms.json")
    assert scene.distortion is None
    for got, want in zip(scene.cameras, cameras):
        np.testing.assert_allclose(got.camera_to_world, want.camera_to_world, atol=1e-12)
        assert (got.fx, got.fy, got.cx, got.cy) == pytest.approx((want.fx, want.fy, want.cx, want.cy))
        assert 0 < got.near < got.far


def test_working_copies_respect_exif_orientation_and_downscale(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    image = Image.new("RGB", (40, 30), (200, 10, 10))
    image.paste((10, 10, 200), (0, 0, 10, 30))  # blue left stripe
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        image.save(source / name, exif=exif, quality=95)
    image.save(source / "d.png")
    size = prepare_images(sorted(source.glob("*.jpg")), source, tmp_path / "out", downscale=2)
    assert size == (15, 20)
    with Image.open(tmp_path / "out" / "a.jpg") as out:
        assert out.size == (15, 20)
        assert out.getexif().get(0x0112, 1) == 1
        top = np.asarray(out.convert("RGB"))[1, 7]  # after rotating, the blue stripe is on top
        assert top[2] > 150 and top[0] < 100
    assert prepare_images([source / "d.png"] * 3, source, tmp_path / "png", downscale=2) == (20, 15)
    assert (tmp_path / "png" / "d.png").read_bytes()[:4] == b"\x89PNG"


def run_stage(tmp_path, source, poses="provided", downscale=1, settings=None):
    out = tmp_path / "result"
    cli.main(["--scene", "t", "--source", str(source), "--poses", poses, "--downscale", str(downscale),
              "--out", str(out), "--settings", json.dumps(settings or {})])
    return out


def test_provided_transforms_with_distortion_are_undistorted(tmp_path):
    cameras = some_cameras(n=3, width=80, height=60)
    write_images(tmp_path / "images", [c.file for c in cameras], size=(80, 60))
    data = transforms(cameras, tmp_path / "images", tmp_path / "transforms.json")
    data.update({"k1": 0.1, "k2": -0.02, "p1": 0.001, "p2": 0.0})
    for frame in data["frames"]:  # only global intrinsics, like instant-ngp
        for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
            frame.pop(key)
    (tmp_path / "transforms.json").write_text(json.dumps(data))
    out = run_stage(tmp_path, tmp_path / "transforms.json")
    result = read_cameras(out / "poses" / "cameras.json")
    report = json.loads((out / "poses" / "report.json").read_text())
    assert report["undistorted"] and report["registered"] == 3
    for camera, want in zip(result.cameras, cameras):
        np.testing.assert_allclose(camera.camera_to_world, want.camera_to_world, atol=1e-12)
        with Image.open(result.image_dir / camera.file) as image:
            assert image.size == (camera.width, camera.height)
    # Barrel distortion (k1 > 0) undistorts to a different pinhole than the input's.
    assert (result.cameras[0].width, result.cameras[0].fx) != (80, cameras[0].fx)
    assert np.load(out / "poses" / "poses_bounds.npy").shape == (3, 17)
    assert (out / "poses" / "cameras.png").stat().st_size > 0


def test_provided_llff_fern_matches_poses_bounds(tmp_path, data_root):
    fern = data_root / "scenes" / "fern"
    out = run_stage(tmp_path, fern, downscale=8)
    result = read_cameras(out / "poses" / "cameras.json")
    raw = np.load(fern / "poses_bounds.npy")
    assert len(result) == 20 and result.image_dir.resolve() == (out / "images").resolve()
    first = result.cameras[0]
    height, width, focal = raw[0, :15].reshape(3, 5)[:, 4]
    assert (first.width, first.height) == (504, 378)
    assert first.fx == pytest.approx(focal * 504 / width)
    llff = raw[0, :15].reshape(3, 5)
    np.testing.assert_allclose(first.camera_to_world[:3, 0], llff[:, 1])  # right
    np.testing.assert_allclose(first.camera_to_world[:3, 2], -llff[:, 2])  # forward
    assert (first.near, first.far) == (raw[0, 15], raw[0, 16])
    # The LLFF export is the input again (at the images' resolution).
    exported = np.load(out / "poses" / "poses_bounds.npy")
    np.testing.assert_allclose(exported[:, :15].reshape(20, 3, 5)[:, :, :4], raw[:, :15].reshape(20, 3, 5)[:, :, :4])
    np.testing.assert_allclose(exported[:, 15:], raw[:, 15:])
    opengl = np.asarray(json.loads((out / "poses" / "transforms.json").read_text())["frames"][0]["transform_matrix"])
    np.testing.assert_allclose(opengl @ OPENCV_TO_OPENGL, first.camera_to_world)


def transforms_scene(tmp_path, **changes):
    """A nerfstudio transforms.json over 3 real-sized images; ``changes`` update its top level."""
    cameras = some_cameras(n=3)
    write_images(tmp_path / "images", [c.file for c in cameras])
    data = transforms(cameras, tmp_path / "images", tmp_path / "transforms.json")
    data.update(changes)
    (tmp_path / "transforms.json").write_text(json.dumps(data))
    return tmp_path / "transforms.json", data, cameras


@pytest.mark.parametrize("changes", [{"camera_model": "PINHOLE", "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0},
                                     {"camera_model": "OPENCV", "k3": 0.0, "k4": 0.0},
                                     {"camera_model": "OPENCV", "k1": 0.05}])
def test_transforms_camera_models_that_are_honoured(tmp_path, changes):
    transforms_file, _, cameras = transforms_scene(tmp_path, **changes)
    scene = import_transforms(transforms_file)
    assert scene.distortion == ({"k1": 0.05, "k2": 0.0, "p1": 0.0, "p2": 0.0} if changes.get("k1") else None)
    for got, want in zip(scene.cameras, cameras):
        assert (got.fx, got.fy, got.cx, got.cy) == pytest.approx((want.fx, want.fy, want.cx, want.cy))


@pytest.mark.parametrize("changes, frame_changes, named", [
    ({"camera_model": "OPENCV_FISHEYE", "k3": 0.01, "k4": -0.002}, {}, "camera_model 'OPENCV_FISHEYE'"),
    ({"camera_model": "EQUIRECTANGULAR"}, {}, "camera_model 'EQUIRECTANGULAR'"),
    ({"camera_model": "OPENCV", "k3": 0.01}, {}, "k3 = 0.01 is not supported"),
    ({"camera_model": "PINHOLE", "k1": 0.1}, {}, "k1 = 0.1 but camera_model is 'PINHOLE'"),
    ({}, {"camera_model": "OPENCV_FISHEYE"}, "frames[1].camera_model 'OPENCV_FISHEYE'"),
    ({}, {"k4": 0.5}, "frames[1].k4 = 0.5 is not supported"),
])
def test_transforms_camera_models_that_are_refused_with_one_line(tmp_path, changes, frame_changes, named):
    transforms_file, data, _ = transforms_scene(tmp_path, **changes)
    data["frames"][1].update(frame_changes)
    transforms_file.write_text(json.dumps(data))
    out = tmp_path / "result"
    with pytest.raises(SystemExit) as error:
        cli.main(["--scene", "t", "--source", str(transforms_file), "--poses", "provided", "--out", str(out)])
    message = str(error.value)
    assert message.startswith(f"error: {transforms_file}: {named}")
    assert "\n" not in message and not out.exists()
