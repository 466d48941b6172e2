"""Rays of the stylized NeRF's pixels, addressed by integer index (u, v) and flattened row-major.

Only the indexing lives here; pixel to ray is :mod:`stylizednerf.pinhole` (pixel centres,
camera-frame z = 1 directions, so the ray parameter is the z-depth and near/far bound it).
"""

import torch

from stylizednerf.pinhole import pixel_centres, pixel_grid, pixel_to_ray


def pixel_rays(K: torch.Tensor, c2w: torch.Tensor, u: torch.Tensor, v: torch.Tensor):
    """Origins and directions (R, 3) of pixels (u, v) (integer indices, (R,)) of cameras K (R, 3, 3), c2w (R, 4, 4)."""
    origins, directions = pixel_to_ray(pixel_centres(u, v, K.dtype), K, c2w)
    return origins.contiguous(), directions


def image_rays(K: torch.Tensor, c2w: torch.Tensor, height: int, width: int):
    """Origins and directions (H*W, 3) of every pixel of one camera, row-major."""
    n = height * width
    # one camera per ray, as for training pixels: the same batched product as pixel_rays on every device
    origins, directions = pixel_to_ray(pixel_grid(height, width, K.device, K.dtype).reshape(n, 2),
                                       K.expand(n, 3, 3), c2w.expand(n, 4, 4))
    return origins.contiguous(), directions
