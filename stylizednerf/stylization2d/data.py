"""Images for the 2D side: robust loading to RGB, and batched random resized crops on the device.

Loading goes through the project's one image reader (:mod:`stylizednerf.images`: any PIL mode,
16-bit scaled, grey expanded, transparency composited on white) and returns RGB uint8; an
unreadable file stops with one line naming it. :class:`ImageBank` keeps a set of images as one zero-padded uint8 tensor on the
device so that a whole batch of random crops is cut with one ``grid_sample`` (no per-sample
Python work, no host round trip).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from stylizednerf.cameras import read_cameras
from stylizednerf.images import ImageReadError, open_rgb
from stylizednerf.images import to_uint8 as images_to_uint8
from stylizednerf.paths import list_images


def load_rgb(path, short_side: int | None = None, max_side: int | None = None) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3).

    ``short_side``: resize (keeping the aspect ratio) so the shorter side has this length.
    ``max_side``: shrink (never enlarge) so the longer side is at most this.
    """
    try:
        image = open_rgb(path)
    except ImageReadError as error:
        raise SystemExit(f"error: {error}") from None
    width, height = image.size
    scale = 1.0
    if short_side is not None:
        scale = short_side / min(width, height)
    if max_side is not None:
        scale = min(scale, max_side / max(width, height)) if short_side is not None else min(1.0, max_side / max(width, height))
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.LANCZOS if scale < 1 else Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8).copy()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (B, 3, H, W) float in [0, 1] -> (H, W, 3) or (B, H, W, 3) uint8."""
    return images_to_uint8(images.movedim(-3, -1))


def content_image_paths(sources) -> list[Path]:
    """Image files from a list of ``cameras.json`` files and/or image folders (and single images)."""
    paths = []
    for source in sources:
        source = Path(source)
        if source.is_file() and source.suffix == ".json":
            try:
                paths += read_cameras(source).image_paths()
            except (ValueError, KeyError, OSError) as error:
                raise SystemExit(f"error: {source}: cannot read camera file ({error})") from error
        elif source.is_dir():
            found = list_images(source)
            if not found:
                raise SystemExit(f"error: {source}: no PNG/JPEG images in this folder")
            paths += found
        elif source.is_file():
            paths.append(source)
        else:
            raise SystemExit(f"error: {source}: no such file or folder")
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"error: {path}: image listed in the camera file does not exist")
    return paths


class ImageBank:
    """A set of images on one device, zero-padded to a common size, for batched random crops."""

    def __init__(self, arrays: list[np.ndarray], device="cpu"):
        if not arrays:
            raise ValueError("no images")
        heights = [a.shape[0] for a in arrays]
        widths = [a.shape[1] for a in arrays]
        self.height, self.width = max(heights), max(widths)
        bank = torch.zeros(len(arrays), 3, self.height, self.width, dtype=torch.uint8)
        for i, a in enumerate(arrays):
            bank[i, :, : a.shape[0], : a.shape[1]] = torch.from_numpy(a).permute(2, 0, 1)
        self.images = bank.to(device)
        self.sizes = torch.tensor([[h, w] for h, w in zip(heights, widths)], dtype=torch.float32, device=device)
        self.arrays = arrays

    def __len__(self) -> int:
        return self.images.shape[0]

    @classmethod
    def from_paths(cls, paths, short_side: int, device="cpu", max_side: int | None = None) -> "ImageBank":
        return cls([load_rgb(p, short_side=short_side, max_side=max_side) for p in paths], device)

    def random_crops(self, batch: int, size: int, generator: torch.Generator, min_scale: float = 0.5,
                     max_scale: float = 1.0, flip: bool = True, index: torch.Tensor | None = None,
                     supersample: int = 2) -> torch.Tensor:
        """(batch, 3, size, size) float [0,1]: square crops whose side is a random fraction in
        [min_scale, max_scale] of each image's shorter side, at a random place, resized to ``size``
        and mirrored left-right with probability 1/2. Sampled at ``supersample`` x the resolution
        and box-filtered down, which tames the aliasing of bilinear minification."""
        device = self.images.device
        uniform = lambda *shape: torch.rand(*shape, generator=generator, device=device)  # noqa: E731
        if index is None:
            index = torch.randint(len(self), (batch,), generator=generator, device=device)
        hw = self.sizes[index]  # (B, 2) pixels
        side = torch.minimum(hw[:, 0], hw[:, 1]) * (min_scale + (max_scale - min_scale) * uniform(batch))
        top = (hw[:, 0] - side) * uniform(batch)
        left = (hw[:, 1] - side) * uniform(batch)
        sign = torch.where(uniform(batch) < 0.5, -1.0, 1.0) if flip else torch.ones(batch, device=device)
        # affine_grid maps output [-1,1] to input [-1,1] of the padded bank (align_corners=False)
        theta = torch.zeros(batch, 2, 3, device=device)
        theta[:, 0, 0] = side / self.width * sign
        theta[:, 0, 2] = (2 * left + side) / self.width - 1
        theta[:, 1, 1] = side / self.height
        theta[:, 1, 2] = (2 * top + side) / self.height - 1
        out = size * supersample
        grid = F.affine_grid(theta, [batch, 3, out, out], align_corners=False)
        crops = F.grid_sample(self.images[index].float(), grid, mode="bilinear", padding_mode="border",
                              align_corners=False)
        if supersample > 1:
            crops = F.avg_pool2d(crops, supersample)
        return crops / 255.0

    def center_crops(self, size: int) -> torch.Tensor:
        """Every image's largest centred square, resized to ``size`` (for fixed sample grids)."""
        n = len(self)
        hw = self.sizes
        side = torch.minimum(hw[:, 0], hw[:, 1])
        theta = torch.zeros(n, 2, 3, device=self.images.device)
        theta[:, 0, 0] = side / self.width
        theta[:, 0, 2] = (2 * (hw[:, 1] - side) / 2 + side) / self.width - 1
        theta[:, 1, 1] = side / self.height
        theta[:, 1, 2] = (2 * (hw[:, 0] - side) / 2 + side) / self.height - 1
        grid = F.affine_grid(theta, [n, 3, size * 2, size * 2], align_corners=False)
        crops = F.grid_sample(self.images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
        return F.avg_pool2d(crops, 2) / 255.0
