"""Export cameras as LLFF ``poses_bounds.npy`` and nerfstudio ``transforms.json``.

Both describe the working images (results/{scene}/images), so LLFF's hwf is at their resolution.
"""

import json
import os
from pathlib import Path

import numpy as np

from stylizednerf.cameras import OPENCV_TO_OPENGL, Camera
from stylizednerf.poses.importers import opencv_to_llff


def poses_bounds(cameras: list[Camera]) -> np.ndarray:
    """N x 17 LLFF array: [down, right, back | t | (H, W, f)] flattened, then near, far.

    LLFF has one focal length per image: fx is written (fy differs only for non-square pixels).
    """
    c2w = np.stack([c.camera_to_world for c in cameras])
    matrices = np.concatenate([opencv_to_llff(c2w), np.array([[[c.height], [c.width], [c.fx]] for c in cameras])],
                              axis=2)
    bounds = np.array([[c.near, c.far] for c in cameras])
    return np.concatenate([matrices.reshape(len(cameras), 15), bounds], axis=1)


def transforms(cameras: list[Camera], image_dir: Path, out_file: Path) -> dict:
    """nerfstudio/instant-ngp dict: OpenGL camera-to-world, pinhole intrinsics per frame and global."""
    first = cameras[0]
    relative = os.path.relpath(image_dir, Path(out_file).parent)
    return {
        "camera_model": "OPENCV",
        "w": first.width, "h": first.height, "fl_x": first.fx, "fl_y": first.fy, "cx": first.cx, "cy": first.cy,
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "frames": [
            {"file_path": f"{relative}/{c.file}", "w": c.width, "h": c.height, "fl_x": c.fx, "fl_y": c.fy,
             "cx": c.cx, "cy": c.cy, "near": c.near, "far": c.far,
             "transform_matrix": (np.asarray(c.camera_to_world) @ OPENCV_TO_OPENGL).tolist()}
            for c in cameras
        ],
    }


def write_exports(cameras: list[Camera], image_dir: Path, out_dir: Path) -> None:
    """poses_bounds.npy and transforms.json into ``out_dir`` (a temporary folder renamed later)."""
    np.save(out_dir / "poses_bounds.npy", poses_bounds(cameras))
    data = transforms(cameras, image_dir, out_dir / "transforms.json")
    (out_dir / "transforms.json").write_text(json.dumps(data, indent=2) + "\n")
