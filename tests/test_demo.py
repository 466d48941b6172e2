"""The generated demo scene (cameras and depth agree) and style-image preparation."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from stylizednerf.cameras import read_cameras
from stylizednerf.demo.scene import generate, make_scene
from stylizednerf.demo.styles import NAMES, demo_style
from stylizednerf.pinhole import camera_rays, pixel_grid, project, unproject
from stylizednerf.style_image import load_style_image, main as prepare_style_main

WIDTH, HEIGHT, VIEWS, SEED = 80, 60, 6, 0
PAIRS = [(0, VIEWS - 1), (0, 1), (VIEWS - 1, 2)]  # widest baseline, neighbours, reversed diagonal


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def demo(one_thread):
    return generate(WIDTH, HEIGHT, VIEWS, SEED)


def _k(camera):
    return torch.tensor(camera.intrinsics)


def _c2w(camera):
    return torch.tensor(camera.camera_to_world)


@pytest.mark.parametrize("i,j", PAIRS)
def test_reprojection_with_stored_depth_lands_on_same_surface_point(demo, i, j):
    cameras, images, depths = demo
    ci, cj = cameras[i], cameras[j]
    pixels = pixel_grid(HEIGHT, WIDTH, dtype=torch.float64).reshape(-1, 2)
    points = unproject(pixels, torch.tensor(depths[i], dtype=torch.float64).reshape(-1), _k(ci), _c2w(ci))
    uv, z = project(points, _k(cj), _c2w(cj))
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < WIDTH) & (uv[:, 1] >= 0) & (uv[:, 1] < HEIGHT) & (z > 0)
    u = uv[:, 0].clamp(0, WIDTH - 1).floor().long()
    v = uv[:, 1].clamp(0, HEIGHT - 1).floor().long()
    stored = torch.tensor(depths[j], dtype=torch.float64)[v, u]
    # Visible in j: j's stored depth at the landed pixel agrees within 1%. Occluded points and
    # grazing surfaces (the far floor, where one pixel spans more than 1% of depth) drop out.
    visible = inside & ((z - stored).abs() < 0.01 * z)
    # Measured 0.68-0.78 at 80x60 (0.85-0.95 of the points land inside j).
    assert visible.float().mean() > 0.5
    landed = unproject(torch.stack([u, v], -1) + 0.5, stored, _k(cj), _c2w(cj))
    # Distance in units of j's pixel footprint (z / fx). Rounding to the pixel centre alone moves
    # up to 0.71 px sideways plus the depth change across that half pixel: measured median 0.39-0.44,
    # 99th percentile 0.80-0.83, max 1.01-1.07 footprints. A wrong camera is off by many pixels.
    error = ((landed - points).norm(dim=-1) / (z / cj.fx))[visible]
    assert error.median() < 0.5
    assert error.quantile(0.99) < 1.0
    assert error.max() < 1.5
    # Same surface point, same colour (Lambertian shading): measured mean |diff| 4.1-4.8 and
    # median 2.0-3.0 of 255 (texture varies within the rounding offset); shuffled pairs differ by 35-38.
    colour_i = torch.tensor(images[i], dtype=torch.float64).reshape(-1, 3)[visible]
    colour_j = torch.tensor(images[j], dtype=torch.float64)[v, u][visible]
    diff = (colour_i - colour_j).abs().mean(-1)
    assert diff.mean() < 8 and diff.median() < 5
    shuffled = (colour_i - colour_j[torch.randperm(len(colour_j), generator=torch.Generator().manual_seed(0))])
    assert shuffled.abs().mean() > 4 * diff.mean()


def test_pixel_rays_follow_the_camera_file_convention_exactly(demo):
    """Exact (float64, no rounding): the renderer's rays and pinhole.py's project/unproject agree.

    A point seen through a pixel centre of view 0, projected into view j to continuous coordinates,
    is hit exactly there by the ray through those coordinates unless something occludes it.
    """
    cameras = demo[0]
    scene = make_scene(SEED)
    ci = cameras[0]
    pixels = pixel_grid(HEIGHT, WIDTH, dtype=torch.float64).reshape(-1, 2)
    origins, dirs = camera_rays(ci, pixels)
    t, _ = scene.cast(origins, dirs)
    points = origins + t[:, None] * dirs
    # The ray parameter is the z-depth (what depth/NNN.npy stores, rounded to float32).
    assert (unproject(pixels, t, _k(ci), _c2w(ci)) - points).norm(dim=-1).max() < 1e-9
    assert np.abs(t.numpy().reshape(HEIGHT, WIDTH) - demo[2][0]).max() < 1e-5
    for cj in cameras[1:]:
        uv, z = project(points, _k(cj), _c2w(cj))
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < WIDTH) & (uv[:, 1] >= 0) & (uv[:, 1] < HEIGHT)
        t_j, _ = scene.cast(*camera_rays(cj, uv[inside]))
        gap = t_j - z[inside]
        assert gap.max() < 1e-9  # nothing is seen behind a surface point
        assert (gap.abs() < 1e-9).float().mean() > 0.85  # measured 0.92-0.97: the rest is occluded
        # A half-pixel error in the principal point breaks it: control for the check's sensitivity.
        shifted = uv[inside] + torch.tensor([0.5, 0.0], dtype=torch.float64)
        t_shift, _ = scene.cast(*camera_rays(cj, shifted))
        assert ((t_shift - z[inside]).abs() < 1e-9).float().mean() < 0.05  # measured 0.000


def test_cameras_depth_and_bounds(demo):
    cameras, images, depths = demo
    for camera, image, depth in zip(cameras, images, depths):
        assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
        assert depth.shape == (HEIGHT, WIDTH) and depth.dtype == np.float32
        assert np.isfinite(depth).all() and depth.min() > 0
        assert 0 < camera.near < np.percentile(depth, 1) and camera.far > np.percentile(depth, 99)
        R = camera.camera_to_world[:3, :3]
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(R), 1.0)
        assert R[2, 2] > 0.98  # looks roughly along +z
        assert image.std() > 30  # textured, not flat
    centres = np.stack([c.center for c in cameras])
    assert np.ptp(centres[:, 0]) > 0.5 and np.ptp(centres[:, 1]) > 0.3  # an LLFF-like grid


def test_baseline_scales_camera_spread():
    from stylizednerf.demo.scene import make_cameras

    wide = np.stack([c.center for c in make_cameras(20, 160, 120, SEED, baseline=1.0)])
    narrow = np.stack([c.center for c in make_cameras(20, 160, 120, SEED, baseline=0.1)])
    assert np.allclose(np.ptp(narrow, axis=0)[:2] * 10, np.ptp(wide, axis=0)[:2])


def test_generation_is_deterministic_per_seed():
    first = generate(40, 32, 3, seed=3, supersample=2)
    second = generate(40, 32, 3, seed=3, supersample=2)
    other = generate(40, 32, 3, seed=4, supersample=2)
    for a, b, c in zip(first[1] + first[2], second[1] + second[2], other[1] + other[2]):
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)
    assert all(np.array_equal(a.camera_to_world, b.camera_to_world) for a, b in zip(first[0], second[0]))


def test_demo_scene_cli_writes_readable_folder(tmp_path):
    from stylizednerf.__main__ import main

    out = tmp_path / "demo"
    settings = {"width": 40, "height": 32, "views": 3, "supersample": 1, "seed": 1, "device": "cpu"}
    assert main(["demo-scene", "--out", str(out), "--settings", json.dumps(settings)]) == 0
    camera_set = read_cameras(out / "cameras.json")
    assert len(camera_set) == 3 and camera_set.scene_kind == "forward"
    for image_path, depth_path in zip(camera_set.image_paths(), camera_set.depth_paths()):
        assert Image.open(image_path).size == (40, 32)
        assert np.load(depth_path).dtype == np.float32
    assert json.loads((out / "metadata.json").read_text())["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


# ---- styles -----------------------------------------------------------------------------------------

def test_demo_styles_are_deterministic_and_distinct():
    images = {name: demo_style(name, 96, seed=0) for name in NAMES}
    means = []
    for name, image in images.items():
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        assert np.array_equal(image, demo_style(name, 96, seed=0))
        assert not np.array_equal(image, demo_style(name, 96, seed=1))
        assert image.std() > 40
        means.append(image.reshape(-1, 3).mean(0))
    means = np.array(means)
    assert min(np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a + 1, 3)) > 15


def _prepare(tmp_path, source, max_size=1024, name="s"):
    out = tmp_path / "out" / f"{name}.png"
    settings = json.dumps({"max_size": max_size, "style_size": 64, "seed": 0})
    assert prepare_style_main(["--name", name, "--source", str(source), "--out", str(out),
                               "--settings", settings]) == 0
    image = Image.open(out)
    assert image.mode == "RGB"
    return np.asarray(image)


def test_prepare_style_converts_modes(tmp_path):
    gradient = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (20, 1))  # 20 x 64
    Image.fromarray(gradient, "L").save(tmp_path / "grey.png")
    out = _prepare(tmp_path, tmp_path / "grey.png")
    assert out.shape == (20, 64, 3) and np.array_equal(out[..., 0], gradient) and np.array_equal(out[..., 2], gradient)

    rgba = np.zeros((20, 24, 4), dtype=np.uint8)  # styles are at least 16 px a side
    rgba[:, :12] = (200, 10, 10, 255)  # opaque red left, fully transparent black right
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = _prepare(tmp_path, tmp_path / "rgba.png")
    assert (out[:, :12] == (200, 10, 10)).all() and (out[:, 12:] == 255).all()  # composited on white

    la = Image.fromarray(rgba[..., [0, 3]].copy(), "LA")
    la.save(tmp_path / "la.png")
    assert (_prepare(tmp_path, tmp_path / "la.png")[:, 12:] == 255).all()

    palette = Image.fromarray((np.arange(16 * 24).reshape(16, 24) % 3).astype(np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.save(tmp_path / "palette.png")
    out = _prepare(tmp_path, tmp_path / "palette.png")
    assert out.shape == (16, 24, 3) and tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 1]) == (0, 255, 0)

    Image.new("CMYK", (32, 18), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    out = _prepare(tmp_path, tmp_path / "cmyk.jpg")
    assert out.shape == (18, 32, 3) and out[..., 0].mean() > 200 and out[..., 1:].mean() < 50  # red

    deep = np.tile(np.array([0, 32768, 65535], dtype=np.uint16), (16, 6))  # 16-bit greyscale
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = _prepare(tmp_path, tmp_path / "deep.png")
    assert out.shape == (16, 18, 3) and tuple(out[0, :3, 0]) == (0, 128, 255)  # scaled, not clipped


def test_prepare_style_respects_exif_orientation_and_downscales(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    Image.new("RGB", (40, 20), (10, 120, 230)).save(tmp_path / "rotated.jpg", exif=exif)
    assert _prepare(tmp_path, tmp_path / "rotated.jpg").shape == (40, 20, 3)

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (300, 500, 3), dtype=np.uint8)).save(tmp_path / "big.png")
    assert _prepare(tmp_path, tmp_path / "big.png", max_size=100).shape == (60, 100, 3)
    assert _prepare(tmp_path, tmp_path / "big.png", max_size=1000).shape == (300, 500, 3)  # never enlarged


def test_prepare_style_generates_demo_styles(tmp_path):
    out = _prepare(tmp_path, "demo", name="mosaic")
    assert out.shape == (64, 64, 3) and np.array_equal(out, demo_style("mosaic", 64, 0))
    assert json.loads((tmp_path / "out" / "mosaic.json").read_text())["style"]["source"] == "demo"


def test_prepare_style_rejects_truncated_jpeg_without_output(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out" / "broken.png"
    with pytest.raises(SystemExit) as raised:
        prepare_style_main(["--name", "broken", "--source", str(broken), "--out", str(out)])
    message = str(raised.value)
    assert message.startswith(f"error: style image '{broken}' cannot be read") and "\n" not in message
    assert not out.exists() and not out.with_suffix(".json").exists()
    with pytest.raises(SystemExit):
        load_style_image(tmp_path / "missing.png")
