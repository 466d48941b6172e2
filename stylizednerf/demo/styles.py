"""Procedural style images for the demo (no paintings needed): strokes, mosaic, palette.

Each has colour statistics far from the demo scene's, so a stylized rendering visibly changes:

* ``strokes``: a dense field of short oriented brush strokes following a smooth flow field,
  in a warm yellow/orange on deep blue palette (a "Starry Night"-like texture).
* ``mosaic``: a Voronoi mosaic of tiles in earthy terracotta/turquoise tones, with dark grout.
* ``palette``: bold, saturated colour bands with wavy borders and a few large blobs.

Deterministic per seed: all randomness comes from ``numpy.random.default_rng([seed, k])``.
Primitives are drawn in painter's order with vectorised numpy per primitive (a loop over a few
hundred strokes/blobs, never over pixels).
"""

import numpy as np

from stylizednerf.images import to_uint8

NAMES = ("strokes", "mosaic", "palette")


def _hex(colors: list[str]) -> np.ndarray:
    return np.array([[int(c[i:i + 2], 16) for i in (0, 2, 4)] for c in colors], dtype=np.float64) / 255.0


def _smooth_noise(rng, size: int, cells: int) -> np.ndarray:
    """A smooth random field in [0, 1] (bicubic-ish upsampling of a coarse random grid)."""
    coarse = rng.uniform(size=(cells + 3, cells + 3))
    x = np.linspace(1, cells + 1, size, endpoint=False)
    i = np.floor(x).astype(int)
    f = x - i
    w = f * f * (3 - 2 * f)
    rows = coarse[i] * (1 - w)[:, None] + coarse[i + 1] * w[:, None]
    return rows[:, i] * (1 - w)[None, :] + rows[:, i + 1] * w[None, :]


def strokes(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 10])
    colors = _hex(["f2c230", "f28c28", "e8e2b0", "2f5fa7", "1b2f6b", "4f8fc0", "0e1a3a"])
    image = np.empty((size, size, 3))
    image[:] = colors[4]
    flow = _smooth_noise(rng, size, 4) * 2 * np.pi  # stroke orientation field
    warm = _smooth_noise(rng, size, 3)  # where warm colours dominate
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    count = int(2.2 * (size / 16) ** 2)
    length = size * 0.06
    width = size * 0.012
    for _ in range(count):
        cx, cy = rng.uniform(0, size, 2)
        angle = flow[int(cy), int(cx)] + rng.normal(0, 0.15)
        palette = [0, 1, 2] if rng.uniform() < warm[int(cy), int(cx)] else [3, 4, 5, 6]
        color = colors[rng.choice(palette)] * rng.uniform(0.85, 1.1)
        half_len = length * rng.uniform(0.6, 1.3)
        half_w = width * rng.uniform(0.7, 1.4)
        r = int(half_len + half_w + 2)
        y0, y1 = max(0, int(cy) - r), min(size, int(cy) + r + 1)
        x0, x1 = max(0, int(cx) - r), min(size, int(cx) + r + 1)
        dx, dy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
        along = dx * np.cos(angle) + dy * np.sin(angle)
        across = -dx * np.sin(angle) + dy * np.cos(angle)
        # A capsule with soft edges, and bristle streaks along the stroke.
        dist = np.hypot(np.clip(np.abs(along) - half_len, 0, None), across) / half_w
        alpha = np.clip(1.5 - dist, 0, 1)[..., None]
        bristles = 0.85 + 0.15 * np.sin(across * 3.0 + rng.uniform(0, 6.3))[..., None]
        image[y0:y1, x0:x1] = (1 - alpha) * image[y0:y1, x0:x1] + alpha * color * bristles
    return to_uint8(image)


def mosaic(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 11])
    colors = _hex(["c4532d", "e0a458", "2a9d8f", "264653", "e9d8a6", "9b2226", "f4f1de"])
    tiles = int((size / 18) ** 2)
    # Jittered grid of seeds: tiles of similar size, irregular shapes.
    side = int(np.ceil(np.sqrt(tiles)))
    gy, gx = np.mgrid[0:side, 0:side].reshape(2, -1)
    seeds = (np.stack([gx, gy], axis=1) + rng.uniform(0.1, 0.9, (side * side, 2))) * (size / side)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    pixels = np.stack([xx.ravel(), yy.ravel()], axis=1)
    dist = np.sqrt(((pixels[:, None, :] - seeds[None]) ** 2).sum(-1))
    order = np.argpartition(dist, 1, axis=1)[:, :2]
    d1 = np.take_along_axis(dist, order[:, :1], 1)[:, 0]
    d2 = np.take_along_axis(dist, order[:, 1:2], 1)[:, 0]
    nearest = np.where(d1 <= d2, order[:, 0], order[:, 1])
    gap = np.abs(d2 - d1)
    tile_colors = colors[rng.integers(0, len(colors), len(seeds))] * rng.uniform(0.8, 1.1, (len(seeds), 1))
    shading = 0.9 + 0.1 * _smooth_noise(rng, size, 12).ravel()
    image = tile_colors[nearest] * shading[:, None]
    grout = np.clip((size * 0.012 - gap) / (size * 0.006), 0, 1)[:, None]
    image = (1 - grout) * image + grout * np.array([0.08, 0.06, 0.05])
    return to_uint8(image.reshape(size, size, 3))


def palette(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 12])
    colors = _hex(["e63946", "ffb703", "023e8a", "06d6a0", "ff006e", "8338ec", "fb5607", "111111"])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    angle = rng.uniform(0, np.pi)
    coord = xx * np.cos(angle) + yy * np.sin(angle) + 0.08 * np.sin(2 * np.pi * (_smooth_noise(rng, size, 3) * 2))
    bands = 7
    band = np.floor((coord - coord.min()) / (np.ptp(coord) + 1e-9) * bands).astype(int)
    band_colors = colors[rng.permutation(np.arange(bands) % (len(colors) - 1))]
    image = band_colors[band]
    for _ in range(9):  # bold blobs on top: irregular discs with a dark outline
        cx, cy = rng.uniform(0.1, 0.9, 2)
        radius = rng.uniform(0.06, 0.16)
        theta = np.arctan2(yy - cy, xx - cx)
        wobble = 1 + 0.2 * np.sin(3 * theta + rng.uniform(0, 6.3)) + 0.1 * np.sin(5 * theta + rng.uniform(0, 6.3))
        r = np.hypot(xx - cx, yy - cy) / (radius * wobble)
        image = np.where((r < 1.0)[..., None], colors[rng.integers(0, len(colors) - 1)], image)
        image = np.where(((r >= 1.0) & (r < 1.12))[..., None], colors[-1], image)
    return to_uint8(image)


GENERATORS = {"strokes": strokes, "mosaic": mosaic, "palette": palette}


def demo_style(name: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """The (size, size, 3) uint8 demo style ``name``."""
    if name not in GENERATORS:
        raise ValueError(f"unknown demo style '{name}' (known: {', '.join(NAMES)})")
    return GENERATORS[name](size, seed)
