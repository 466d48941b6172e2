"""``poses: provided`` on an existing COLMAP model (sparse/0 beside the photos), checked against the
poses stage's own SfM on the same real photos (5 fern images_8): same cameras, near/far and images."""

import json
import shutil

import numpy as np
import pycolmap
import pytest
from PIL import Image

from stylizednerf.cameras import read_cameras
from stylizednerf.config import resolve_scene_source
from stylizednerf.poses import cli, sfm

PHOTOS = [f"image{i:03d}.png" for i in range(5)]
SFM = {"seed": 0, "num_threads": 1}  # one thread: COLMAP's RANSAC and mapping are then repeatable


def run_stage(source, out, poses, downscale=2):
    cli.main(["--scene", "t", "--source", str(source), "--poses", poses, "--downscale", str(downscale),
              "--out", str(out), "--settings", json.dumps(SFM)])
    return read_cameras(out / "poses" / "cameras.json"), json.loads((out / "poses" / "report.json").read_text())


@pytest.fixture(scope="module")
def fern(tmp_path_factory, data_root):
    """The stage's SfM result on 5 fern photos, and a COLMAP model of the same photos made by the same
    pycolmap SfM (sfm.reconstruct), as a user who ran COLMAP would have it: SIMPLE_RADIAL, distorted."""
    root = tmp_path_factory.mktemp("fern")
    photos = root / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copyfile(data_root / "scenes" / "fern" / "images_8" / name, photos / name)
    reference = run_stage(photos, root / "sfm", "colmap")
    work = root / "user_colmap"
    work.mkdir()
    model = sfm.reconstruct(photos, PHOTOS, work, sfm.SfmOptions(num_threads=1, seed=0)).reconstruction
    return root, photos, model, reference


def scene_with_model(folder, photos, model, text=False, legacy=False):
    """``folder/images`` (the photos) and ``folder/sparse/0`` (the model, binary or text).

    ``legacy`` drops the rigs and frames files that COLMAP >= 3.12 adds: older COLMAP writes only
    cameras, images and points3D.
    """
    shutil.copytree(photos, folder / "images")
    sparse = folder / "sparse" / "0"
    sparse.mkdir(parents=True)
    (model.write_text if text else model.write)(sparse)
    if legacy:
        for path in list(sparse.glob("rigs.*")) + list(sparse.glob("frames.*")):
            path.unlink()
    return folder


def assert_same_cameras(got, want, rtol=1e-12):
    assert [c.file for c in got.cameras] == [c.file for c in want.cameras] == PHOTOS
    for a, b in zip(got.cameras, want.cameras):
        assert (a.width, a.height) == (b.width, b.height)
        np.testing.assert_allclose([a.fx, a.fy, a.cx, a.cy, a.near, a.far], [b.fx, b.fy, b.cx, b.cy, b.near, b.far],
                                   rtol=rtol)
        np.testing.assert_allclose(a.camera_to_world, b.camera_to_world, rtol=rtol, atol=rtol)
        with Image.open(got.image_dir / a.file) as image_a, Image.open(want.image_dir / b.file) as image_b:
            assert image_a.size == (a.width, a.height)
            np.testing.assert_array_equal(np.asarray(image_a), np.asarray(image_b))


@pytest.mark.parametrize("text, legacy", [(False, False), (True, True)], ids=["binary", "text-legacy"])
def test_colmap_model_imports_as_the_stage_sfm_would(tmp_path, fern, text, legacy):
    root, photos, model, (want, want_report) = fern
    assert {c.model_name for c in model.cameras.values()} == {"SIMPLE_RADIAL"}  # distorted, as COLMAP leaves it
    scene = scene_with_model(tmp_path / "scene", photos, model, text, legacy)
    assert resolve_scene_source(str(scene)).kind == "colmap"
    got, report = run_stage(scene, tmp_path / "out", "provided")
    # Undistorted by COLMAP as the SfM path does (measured: 6.6 px border shift), then downscaled by 2.
    assert report["undistorted"] and want_report["undistorted"] and report["registered"] == 5
    assert report["bounds"] == want_report["bounds"] == "sparse point depths 0.1/99.9%"
    assert got.cameras[0].width == want_report["image_size"][0] < 504 // 2
    # Text files hold 17 significant digits: the same numbers up to rounding.
    assert_same_cameras(got, want, rtol=1e-9 if text else 1e-12)
    assert (tmp_path / "out" / "poses" / "sparse" / "0" / "points3D.bin").is_file()
    assert np.load(tmp_path / "out" / "poses" / "poses_bounds.npy").shape == (5, 17)


def test_undistorted_colmap_model_in_sparse_folder_imports_unchanged(tmp_path, fern):
    # COLMAP's image_undistorter writes images/ and sparse/ (no 0/) with PINHOLE cameras.
    root, photos, model, (want, _) = fern
    user = scene_with_model(tmp_path / "user", photos, model)
    sfm.undistort_model(user / "sparse" / "0", user / "images", tmp_path / "dense")
    dense_cameras = pycolmap.Reconstruction(tmp_path / "dense" / "sparse").cameras.values()
    assert {c.model_name for c in dense_cameras} == {"PINHOLE"}
    got, report = run_stage(tmp_path / "dense", tmp_path / "out", "provided")
    assert not report["undistorted"] and report["distortion_shift_px"] == 0.0
    assert_same_cameras(got, want)


def test_colmap_model_beside_photos_is_ignored_by_sfm(tmp_path, fern):
    # 'poses: colmap' runs SfM on every photo, a model beside them or not (behaviour before the import).
    root, photos, model, (want, _) = fern
    scene = scene_with_model(tmp_path / "scene", photos, model)
    (scene / "sparse" / "0" / "cameras.bin").write_bytes(b"broken")  # would fail if it were read
    got, report = run_stage(scene, tmp_path / "out", "colmap")
    assert "attempts" in report
    assert_same_cameras(got, want)


def run_failing(source, out):
    with pytest.raises(SystemExit) as error:
        run_stage(source, out, "provided")
    message = str(error.value)
    assert message.startswith("error: ") and "\n" not in message
    assert not out.exists() or list(out.iterdir()) == []
    return message


def test_colmap_model_problems_stop_with_one_line(tmp_path, fern):
    root, photos, model, _ = fern
    scene = scene_with_model(tmp_path / "missing", photos, model)
    (scene / "images" / "image003.png").unlink()
    message = run_failing(scene, tmp_path / "out1")
    assert f"{scene / 'sparse' / '0'}: 1 registered image(s) not found" in message and "image003.png" in message

    scene = scene_with_model(tmp_path / "smaller", photos, model)
    for path in (scene / "images").iterdir():  # photos replaced by half-size copies: the model is not of them
        with Image.open(path) as image:
            image.resize((252, 189)).save(path)
    message = run_failing(scene, tmp_path / "out2")
    assert "camera 1 is 504x378 but image000.png is 252x189" in message

    scene = scene_with_model(tmp_path / "broken", photos, model)
    (scene / "sparse" / "0" / "images.bin").write_bytes(b"\x01\x02")
    assert run_failing(scene, tmp_path / "out3").startswith(f"error: {scene / 'sparse' / '0'}: cannot read the "
                                                            "COLMAP model")


def test_equirectangular_camera_is_refused(tmp_path, fern):
    root, photos, model, _ = fern
    scene = scene_with_model(tmp_path / "scene", photos, model)
    sparse = scene / "sparse" / "0"
    edited = pycolmap.Reconstruction(sparse)
    camera = edited.cameras[1]
    camera.model = pycolmap.CameraModelId.EQUIRECTANGULAR
    camera.params = [camera.width, camera.height]  # its params are unused by the check: any valid count
    edited.write(sparse)
    message = run_failing(scene, tmp_path / "out")
    assert message == f"error: {sparse}: camera 1 model 'EQUIRECTANGULAR' is not supported (no pinhole equivalent)"


def test_provided_on_photos_without_model_names_the_colmap_option(tmp_path, fern):
    root, photos, _, _ = fern
    assert resolve_scene_source(str(photos)).kind == "photos"
    message = run_failing(photos, tmp_path / "out")
    assert "a COLMAP model (sparse/0)" in message



def test_source_files_are_what_the_poses_stage_reads(tmp_path, data_root):
    """The workflow declares these as the colmap rule's inputs: editing a photo reruns the scene."""
    from stylizednerf.config import source_files

    fern = data_root / "scenes" / "fern"
    llff = resolve_scene_source(str(fern), downscale=8)
    files = source_files(llff)
    assert files[-1] == fern / "poses_bounds.npy" and len(files) > 10
    assert all(f.parent == fern / "images_8" for f in files[:-1])
    photos = tmp_path / "photos"
    (photos / "images").mkdir(parents=True)
    for name in PHOTOS:
        shutil.copyfile(fern / "images_8" / name, photos / "images" / name)
    found = resolve_scene_source(str(photos))
    assert found.kind == "photos" and source_files(found) == sorted((photos / "images").iterdir())
    model = photos / "sparse" / "0"
    model.mkdir(parents=True)
    for name in ("cameras.txt", "images.txt", "points3D.txt"):
        (model / name).write_text("# empty\n")
    with_model = source_files(resolve_scene_source(str(photos)))
    assert with_model[-3:] == [model / "cameras.txt", model / "images.txt", model / "points3D.txt"]
    transforms = tmp_path / "ns"
    (transforms / "images").mkdir(parents=True)
    shutil.copyfile(fern / "images_8" / PHOTOS[0], transforms / "images" / PHOTOS[0])
    (transforms / "transforms.json").write_text(json.dumps({"frames": [
        {"file_path": f"images/{PHOTOS[0]}"}, {"file_path": "images/missing.png"}]}))
    assert source_files(resolve_scene_source(str(transforms))) == [transforms / "images" / PHOTOS[0],
                                                                   transforms / "transforms.json"]
    assert source_files(resolve_scene_source("demo")) == []
