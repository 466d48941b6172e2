"""The pinhole camera: pixel to ray (the one definition every stage uses) and point to pixel.

Conventions, those of ``cameras.json`` (:mod:`stylizednerf.cameras`):

* Pixel coordinates are continuous and COLMAP's: the pixel with integer index (u, v) covers
  [u, u+1) x [v, v+1) and its centre is (u + 0.5, v + 0.5) (:func:`pixel_centres`).
* ``K`` is 3x3 (fx, fy, cx, cy; no skew), ``c2w`` 4x4 camera-to-world in OpenCV axes (x right,
  y down, z forward).
* The ray through pixel (u, v) starts at the camera centre and has the direction
  ``R @ ((u - cx)/fx, (v - cy)/fy, 1)``, not normalised: its camera-frame z component is 1, so
  the ray parameter IS the z-depth, the project's depth convention, and ``origin + depth *
  direction`` is the point a depth map stores (:func:`unproject`).

Batching: ``K`` (..., 3, 3) and ``c2w`` (..., 4, 4) broadcast against the pixels' leading
dimensions (one camera for all pixels, one per pixel, or (B, 1, 1, ...) for B images). The
rotation is an einsum: outside autocast it is exact float32/float64 arithmetic, identical to the
matrix products each stage used before this module existed.
"""

import torch


def pixel_centres(u: torch.Tensor, v: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """Continuous coordinates (..., 2) of the centres of pixels with integer indices u, v (...)."""
    return torch.stack([u.to(dtype) + 0.5, v.to(dtype) + 0.5], dim=-1)


def pixel_grid(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(H, W, 2) centres of every pixel of an image, row-major."""
    v, u = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return pixel_centres(u, v, dtype)


def camera_directions(pixels: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Camera-frame ray directions (..., 3) through continuous pixels (..., 2); z component 1."""
    x = (pixels[..., 0] - K[..., 0, 2]) / K[..., 0, 0]
    y = (pixels[..., 1] - K[..., 1, 2]) / K[..., 1, 1]
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def _rotate(c2w: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...ij,...j->...i", c2w[..., :3, :3], vectors)


def pixel_to_ray(pixels: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World ray origins and directions (..., 3) through continuous pixels (..., 2).

    Directions have camera-frame z = 1 (the ray parameter is the z-depth). Origins are the
    camera centres broadcast to the directions' shape (a view; ``.contiguous()`` copies).
    """
    directions = _rotate(c2w, camera_directions(pixels, K))
    return c2w[..., :3, 3].expand_as(directions), directions


def unproject(pixels: torch.Tensor, depth: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor) -> torch.Tensor:
    """World points (..., 3) of continuous pixels (..., 2) at z-depth (...): the ray at ``depth``."""
    # scaled in the camera frame, then rotated: the same operations unproject always did
    return _rotate(c2w, camera_directions(pixels, K) * depth[..., None]) + c2w[..., :3, 3]


def project(points: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Continuous pixel coordinates (..., 2) and z-depth (...) of world points (..., 3)."""
    points_cam = torch.einsum("...ji,...j->...i", c2w[..., :3, :3], points - c2w[..., :3, 3])  # R^T (X - t)
    z = points_cam[..., 2]
    safe_z = torch.where(z.abs() < 1e-8, torch.full_like(z, 1e-8), z)
    u = K[..., 0, 0] * points_cam[..., 0] / safe_z + K[..., 0, 2]
    v = K[..., 1, 1] * points_cam[..., 1] / safe_z + K[..., 1, 2]
    return torch.stack([u, v], dim=-1), z


def camera_rays(camera, pixels: torch.Tensor | None = None, device=None,
                dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays of a :class:`~stylizednerf.cameras.Camera`: through every pixel centre, origins and
    directions (H, W, 3) in ``dtype`` on ``device``; or through given continuous ``pixels``
    (..., 2), in their dtype and on their device."""
    if pixels is None:
        pixels = pixel_grid(camera.height, camera.width, device=device, dtype=dtype)
    K = torch.as_tensor(camera.intrinsics, dtype=pixels.dtype, device=pixels.device)
    c2w = torch.as_tensor(camera.camera_to_world, dtype=pixels.dtype, device=pixels.device)
    return pixel_to_ray(pixels, K, c2w)
