"""Depth maps as images people can look at (the .npy files are for programs)."""

import numpy as np


def depth_colors(depths: list[np.ndarray]) -> list[np.ndarray]:
    """uint8 (H, W, 3) images of z-depth maps (H, W), one shared scale: inverse depth (near is
    bright, as in NeRF papers' figures) between its 1st and 99th percentile over all maps, through
    matplotlib's ``turbo`` colour map. Invalid depth (not finite or <= 0) is black."""
    from matplotlib import colormaps

    inverse = [np.where(np.isfinite(d) & (d > 0), 1.0 / np.maximum(d, 1e-12), np.nan) for d in depths]
    values = np.concatenate([i[np.isfinite(i)] for i in inverse]) if inverse else np.zeros(0)
    low, high = np.percentile(values, [1.0, 99.0]) if values.size else (0.0, 1.0)
    scale = max(high - low, 1e-12)
    out = []
    for i in inverse:
        t = np.clip((np.nan_to_num(i, nan=low) - low) / scale, 0.0, 1.0)
        rgb = (colormaps["turbo"](t)[..., :3] * 255.0 + 0.5).astype(np.uint8)
        rgb[~np.isfinite(i)] = 0
        out.append(rgb)
    return out


def depth_strip(depths: list[np.ndarray]) -> np.ndarray:
    """The depth maps (H, W) side by side as one uint8 image (H, n W, 3)."""
    return np.concatenate(depth_colors(depths), axis=1)
