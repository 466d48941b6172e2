"""Pixel to ray (stylizednerf.pinhole) and every caller's form of it, against an independent
reference: numpy float64, homogeneous pixel centres through the inverse of K, one pixel at a time.

A half-pixel shift, swapped axes, a transposed rotation or distance instead of z-depth each move
the results by far more than the tolerances (float32 rounding of values of order 10).
"""

import numpy as np
import pytest
import torch

from stylizednerf.cameras import Camera
from stylizednerf.demo.scene import make_cameras
from stylizednerf.pinhole import camera_rays, pixel_to_ray, project, unproject
from stylizednerf.stylize.rays import image_rays, pixel_rays
from stylizednerf.warp import project_points, unproject_depth

WIDTH, HEIGHT = 9, 7
TOLERANCE = {torch.float32: 2e-5, torch.float64: 1e-12}


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def cameras() -> list[Camera]:
    """Random poses, unequal focal lengths, principal points off the centre; and the demo's."""
    rng = np.random.default_rng(15)
    out = []
    for k in range(5):
        c2w = np.eye(4)
        c2w[:3, :3] = _rotation(rng)
        c2w[:3, 3] = rng.uniform(-3, 3, 3)
        fx, fy = rng.uniform(5, 20, 2)
        cx, cy = WIDTH / 2 + rng.uniform(-2, 2), HEIGHT / 2 + rng.uniform(-2, 2)
        out.append(Camera(f"{k}.png", WIDTH, HEIGHT, fx, fy, cx, cy, c2w, 1.0, 10.0))
    return out + make_cameras(2, WIDTH, HEIGHT, seed=0)


def reference_rays(camera: Camera, u: np.ndarray, v: np.ndarray):
    """Origin (3,) and directions (N, 3) through the centres of integer pixels (u, v), camera z = 1."""
    K_inv = np.linalg.inv(camera.intrinsics)
    R, t = camera.camera_to_world[:3, :3], camera.camera_to_world[:3, 3]
    directions = []
    for ui, vi in zip(u, v):
        d_cam = K_inv @ np.array([ui + 0.5, vi + 0.5, 1.0])
        directions.append(R @ (d_cam / d_cam[2]))
    return t, np.array(directions)


def _all_pixels():
    v, u = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), indexing="ij")
    return u.reshape(-1), v.reshape(-1)


def _close(actual: torch.Tensor, expected: np.ndarray, dtype) -> bool:
    return np.abs(actual.double().numpy() - expected).max() < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pixel_to_ray_matches_the_reference(dtype):
    u, v = _all_pixels()
    for camera in cameras():
        t, expected = reference_rays(camera, u, v)
        pixels = torch.tensor(np.stack([u + 0.5, v + 0.5], -1), dtype=dtype)
        K = torch.tensor(camera.intrinsics, dtype=dtype)
        c2w = torch.tensor(camera.camera_to_world, dtype=dtype)
        origins, directions = pixel_to_ray(pixels, K, c2w)
        assert _close(directions, expected, dtype)
        assert _close(origins, np.broadcast_to(t, expected.shape), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_camera_rays_are_row_major_pixel_centres(dtype):
    u, v = _all_pixels()
    for camera in cameras():
        t, expected = reference_rays(camera, u, v)
        origins, directions = camera_rays(camera, dtype=dtype)
        assert directions.shape == origins.shape == (HEIGHT, WIDTH, 3)
        assert _close(directions.reshape(-1, 3), expected, dtype)
        assert _close(origins.reshape(-1, 3), np.broadcast_to(t, expected.shape), dtype)


def test_stylize_rays_by_index_mix_cameras_per_ray():
    cams = cameras()
    rng = np.random.default_rng(1)
    view = rng.integers(0, len(cams), 200)
    u, v = rng.integers(0, WIDTH, 200), rng.integers(0, HEIGHT, 200)
    K = torch.tensor(np.stack([c.intrinsics for c in cams]), dtype=torch.float32)
    c2w = torch.tensor(np.stack([c.camera_to_world for c in cams]), dtype=torch.float32)
    index = torch.from_numpy(view)
    origins, directions = pixel_rays(K[index], c2w[index], torch.from_numpy(u), torch.from_numpy(v))
    for r in range(200):
        t, expected = reference_rays(cams[view[r]], u[r:r + 1], v[r:r + 1])
        assert _close(directions[r:r + 1], expected, torch.float32)
        assert _close(origins[r], t, torch.float32)
    for k, camera in enumerate(cams):
        t, expected = reference_rays(camera, *_all_pixels())
        origins, directions = image_rays(K[k], c2w[k], HEIGHT, WIDTH)
        assert _close(directions, expected, torch.float32)
        assert _close(origins, np.broadcast_to(t, expected.shape), torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unprojection_is_the_ray_at_the_z_depth(dtype):
    """unproject and warp's batched unproject_depth: origin + depth * direction, whose camera z is
    the depth; projecting it back gives the pixel centre."""
    cams = cameras()
    rng = np.random.default_rng(2)
    depth = rng.uniform(0.5, 8.0, (len(cams), HEIGHT, WIDTH))
    u, v = _all_pixels()
    K = torch.tensor(np.stack([c.intrinsics for c in cams]), dtype=dtype)
    c2w = torch.tensor(np.stack([c.camera_to_world for c in cams]), dtype=dtype)
    batched = unproject_depth(torch.tensor(depth, dtype=dtype), K, c2w)
    centres = torch.tensor(np.stack([u + 0.5, v + 0.5], -1), dtype=dtype)
    for k, camera in enumerate(cams):
        t, directions = reference_rays(camera, u, v)
        expected = t + depth[k].reshape(-1, 1) * directions
        assert _close(batched[k].reshape(-1, 3), expected, dtype)
        single = unproject(centres, torch.tensor(depth[k].reshape(-1), dtype=dtype), K[k], c2w[k])
        assert _close(single, expected, dtype)
        z_cam = (expected - t) @ camera.camera_to_world[:3, :3]  # R^T (X - t)
        assert np.abs(z_cam[:, 2] - depth[k].reshape(-1)).max() < 1e-9
        uv, z = project(single, K[k], c2w[k])
        assert _close(uv, centres.double().numpy(), dtype) and _close(z, depth[k].reshape(-1), dtype)
    uv, z = project_points(batched, K, c2w)
    assert _close(uv, np.broadcast_to(centres.reshape(HEIGHT, WIDTH, 2).double().numpy(), uv.shape), dtype)
    assert _close(z, depth, dtype)
