"""What the stylize stages read, each read one way: a required file (one line naming it when
missing), an image as a tensor, and a views folder (``render-views``' output: the pre-trained
NeRF's renderings of the training views) as :class:`stylizednerf.stylize.train.TrainingViews`.
"""

from pathlib import Path

import numpy as np
import torch

from stylizednerf.cameras import read_cameras
from stylizednerf.images import ImageReadError, read_rgb_float


def require(path, what: str) -> Path:
    """``path``; SystemExit with one line naming it and ``what`` it is when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path}: {what} not found")
    return path



def load_rgb(path) -> torch.Tensor:
    """(H, W, 3) float32 in [0, 1]; SystemExit with one line naming the file if unreadable."""
    try:
        return torch.from_numpy(read_rgb_float(path))
    except ImageReadError as error:
        raise SystemExit(f"error: {error}") from None



def read_training_views(views_dir):
    """The cached NeRF renderings as a :class:`TrainingViews` (float32, CPU) and their cameras."""
    from stylizednerf.stylize.train import TrainingViews

    views_dir = require(views_dir, "views folder")
    cameras = read_cameras(require(views_dir / "cameras.json", "views camera file"))
    rgb = torch.stack([load_rgb(p) for p in cameras.image_paths()])
    depth = torch.stack([torch.from_numpy(np.load(p)).float() for p in cameras.depth_paths()])
    K = torch.tensor(np.stack([c.intrinsics for c in cameras.cameras]), dtype=torch.float32)
    c2w = torch.tensor(cameras.camera_to_world(), dtype=torch.float32)
    return TrainingViews(rgb, depth, K, c2w), cameras



def views_files(views_dir) -> list[Path]:
    """The files of a views folder that :func:`read_training_views` reads."""
    cameras = read_cameras(require(Path(views_dir) / "cameras.json", "views camera file"))
    return [Path(views_dir) / "cameras.json", *cameras.image_paths(), *cameras.depth_paths()]
