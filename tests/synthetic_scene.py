"""An analytic test scene with exact depth: a tilted textured plane and a textured square occluder.

Rendered by ray casting at any (sub-)pixel position, so tests know the true colour and z-depth
of every point in every view, including which points are hidden behind the occluder.
"""

import math

import torch

from stylizednerf.pinhole import pixel_grid

WIDTH, HEIGHT, FOCAL = 96, 72, 80.0
# background plane n . X = d (tilted), occluder: square |x - OX| < R, |y - OY| < R at z = OZ
PLANE_NORMAL = torch.tensor([0.12, -0.08, 1.0], dtype=torch.float64)
PLANE_POINT = torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)
OX, OY, OZ, R = 0.15, 0.05, 2.4, 0.32


def intrinsics(width=WIDTH, height=HEIGHT, focal=FOCAL) -> torch.Tensor:
    return torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=torch.float64)


def camera(x: float, y: float = 0.0, yaw: float = 0.0) -> torch.Tensor:
    """Camera-to-world (OpenCV axes) at (x, y, 0), looking along +z, turned by ``yaw`` about y."""
    c, s = math.cos(yaw), math.sin(yaw)
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)
    c2w[:3, 3] = torch.tensor([x, y, 0.0], dtype=torch.float64)
    return c2w


def _texture(p: torch.Tensor, occluder: bool) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    if occluder:
        channels = [0.5 + 0.35 * torch.sin(9 * x + 1), 0.3 + 0.2 * torch.cos(11 * y), 0.6 + 0.3 * torch.sin(7 * (x - y))]
    else:
        channels = [0.5 + 0.3 * torch.sin(5 * x + 3 * y) + 0.1 * torch.sin(13 * y),
                    0.5 + 0.3 * torch.cos(4 * y - 2 * x) + 0.1 * torch.cos(11 * x),
                    0.5 + 0.25 * torch.sin(3 * (x + y)) + 0.1 * torch.sin(9 * x - 7 * y)]
    return torch.stack(channels, dim=-1)


def cast(uv: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor, with_occluder: bool = True):
    """Colour (..., 3), z-depth (...) and a hit-occluder flag at continuous pixel positions uv (..., 2)."""
    d_cam = torch.stack([(uv[..., 0] - K[0, 2]) / K[0, 0], (uv[..., 1] - K[1, 2]) / K[1, 1],
                         torch.ones_like(uv[..., 0])], dim=-1)
    d = d_cam @ c2w[:3, :3].T  # world direction scaled so that the camera-frame z step is 1
    o = c2w[:3, 3]
    t_plane = ((PLANE_POINT - o) @ PLANE_NORMAL) / (d @ PLANE_NORMAL)  # t == z-depth
    t = t_plane
    hit_occluder = torch.zeros_like(t, dtype=torch.bool)
    if with_occluder:
        t_occ = (OZ - o[2]) / d[..., 2]
        p_occ = o + t_occ[..., None] * d
        hit_occluder = ((p_occ[..., 0] - OX).abs() < R) & ((p_occ[..., 1] - OY).abs() < R) & (t_occ > 0) & (t_occ < t_plane)
        t = torch.where(hit_occluder, t_occ, t_plane)
    p = o + t[..., None] * d
    colour = torch.where(hit_occluder[..., None], _texture(p, True), _texture(p, False))
    return colour, t, hit_occluder


def render(cameras, with_occluder: bool = True, width=WIDTH, height=HEIGHT):
    """images (N, H, W, 3) float32 in [0, 1], depth (N, H, W) float32, K (N, 3, 3), c2w (N, 4, 4)."""
    K = intrinsics(width, height)
    uv = pixel_grid(height, width, dtype=torch.float64)
    images, depths = [], []
    for c2w in cameras:
        colour, depth, _ = cast(uv, K, c2w, with_occluder)
        images.append(colour)
        depths.append(depth)
    n = len(cameras)
    return (torch.stack(images).float(), torch.stack(depths).float(), K.float().expand(n, 3, 3).clone(),
            torch.stack(list(cameras)).float())


def path_cameras(n: int, span: float = 0.5):
    """n cameras on a horizontal line, slightly turning toward the scene centre."""
    xs = torch.linspace(-span / 2, span / 2, n)
    return [camera(float(x), 0.02 * float(x), yaw=-0.08 * float(x)) for x in xs]


def visible_in(points: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor) -> torch.Tensor:
    """True where world points (..., 3) are the first surface along their ray in camera c2w."""
    K, c2w, points = K.double(), c2w.double(), points.double()
    cam = (points - c2w[:3, 3]) @ c2w[:3, :3]
    uv = torch.stack([K[0, 0] * cam[..., 0] / cam[..., 2] + K[0, 2], K[1, 1] * cam[..., 1] / cam[..., 2] + K[1, 2]], -1)
    _, depth, _ = cast(uv, K, c2w)
    return (depth - cam[..., 2]).abs() < 1e-6 * cam[..., 2]
