"""Rays of given pixels of given cameras (``cameras.json`` frame, OpenCV axes).

Directions are scaled so that their camera-frame z component is 1: the ray parameter t is then
the z-depth, the project's depth convention, and near/far bound t directly.
"""

import torch


def pixel_rays(K: torch.Tensor, c2w: torch.Tensor, u: torch.Tensor, v: torch.Tensor):
    """Origins and directions (R, 3) of pixels (u, v) (integer indices, (R,)) of cameras K (R, 3, 3), c2w (R, 4, 4)."""
    x = (u.to(K.dtype) + 0.5 - K[:, 0, 2]) / K[:, 0, 0]
    y = (v.to(K.dtype) + 0.5 - K[:, 1, 2]) / K[:, 1, 1]
    directions_cam = torch.stack([x, y, torch.ones_like(x)], dim=-1)
    directions = torch.einsum("rij,rj->ri", c2w[:, :3, :3], directions_cam)
    return c2w[:, :3, 3].expand_as(directions).contiguous(), directions


def image_rays(K: torch.Tensor, c2w: torch.Tensor, height: int, width: int):
    """Origins and directions (H*W, 3) of every pixel of one camera, row-major."""
    v, u = torch.meshgrid(torch.arange(height, device=K.device), torch.arange(width, device=K.device), indexing="ij")
    n = height * width
    return pixel_rays(K.expand(n, 3, 3), c2w.expand(n, 4, 4), u.reshape(-1), v.reshape(-1))
