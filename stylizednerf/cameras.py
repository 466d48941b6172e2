"""Cameras: the project's camera file (``cameras.json``); rays and projection: :mod:`stylizednerf.pinhole`.

Conventions, used by every stage:

* ``camera_to_world`` is a 4x4 matrix in the OpenCV/COLMAP camera convention: camera x points
  right, y down, z forward (into the scene). OpenGL/NeRF/nerfstudio cameras (x right, y up,
  z backward) differ by ``diag(1, -1, -1, 1)`` on the right; see :data:`OPENCV_TO_OPENGL`.
* Intrinsics are COLMAP's: the pixel with integer index (u, v) covers [u, u+1) x [v, v+1) and
  its centre is at continuous coordinates (u + 0.5, v + 0.5); a centred principal point is
  (W/2, H/2).
* Depth means z-depth: the z coordinate of a point in the camera frame (not distance along
  the ray).
* ``near``/``far`` bound the z-depth of the scene seen by that camera (LLFF takes the 0.1 and
  99.9 percentiles of sparse-point depths).

The file, ``cameras.json``::

    {"format": "stylizednerf-cameras/1", "convention": "opencv", "scene_kind": "forward",
     "image_dir": "images",          # relative to the file's folder
     "depth_dir": "depth",           # optional: exact z-depth per view as <stem>.npy (demo only)
     "frames": [{"file": "000.png", "width": 160, "height": 120, "fx": .., "fy": .., "cx": ..,
                 "cy": .., "camera_to_world": [[..4x4..]], "near": .., "far": ..}, ...]}
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "stylizednerf-cameras/1"
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class Camera:
    file: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    camera_to_world: np.ndarray  # 4x4 float64, OpenCV axes
    near: float
    far: float

    @property
    def intrinsics(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def center(self) -> np.ndarray:
        return self.camera_to_world[:3, 3]

    def scaled(self, factor: float) -> "Camera":
        """The same camera for an image resized by ``factor`` (e.g. 0.5 halves width and height)."""
        return Camera(self.file, int(round(self.width * factor)), int(round(self.height * factor)),
                      self.fx * factor, self.fy * factor, self.cx * factor, self.cy * factor,
                      self.camera_to_world.copy(), self.near, self.far)


@dataclass
class CameraSet:
    cameras: list[Camera]
    image_dir: Path
    scene_kind: str = "forward"
    depth_dir: Path | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cameras)

    def image_paths(self) -> list[Path]:
        return [self.image_dir / c.file for c in self.cameras]

    def depth_paths(self) -> list[Path]:
        if self.depth_dir is None:
            raise ValueError("this camera set has no depth maps")
        return [self.depth_dir / (Path(c.file).stem + ".npy") for c in self.cameras]

    def camera_to_world(self) -> np.ndarray:
        return np.stack([c.camera_to_world for c in self.cameras])


def read_cameras(path) -> CameraSet:
    path = Path(path)
    with open(path) as f:
        data = json.load(f)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} camera file")
    cameras = [
        Camera(fr["file"], int(fr["width"]), int(fr["height"]), float(fr["fx"]), float(fr["fy"]),
               float(fr["cx"]), float(fr["cy"]), np.asarray(fr["camera_to_world"], dtype=np.float64),
               float(fr["near"]), float(fr["far"]))
        for fr in data["frames"]
    ]
    depth_dir = path.parent / data["depth_dir"] if data.get("depth_dir") else None
    return CameraSet(cameras, path.parent / data["image_dir"], data.get("scene_kind", "forward"), depth_dir,
                     data.get("extra", {}))


def write_cameras(path, camera_set: CameraSet) -> None:
    """Write ``cameras.json``; image/depth folders are stored relative to the file."""
    from stylizednerf.fileio import atomic_write_json

    path = Path(path)
    data = {
        "format": FORMAT,
        "convention": "opencv",
        "scene_kind": camera_set.scene_kind,
        "image_dir": os.path.relpath(camera_set.image_dir, path.parent),
        "frames": [
            {"file": c.file, "width": c.width, "height": c.height, "fx": c.fx, "fy": c.fy, "cx": c.cx,
             "cy": c.cy, "camera_to_world": np.asarray(c.camera_to_world).tolist(), "near": c.near,
             "far": c.far}
            for c in camera_set.cameras
        ],
    }
    if camera_set.depth_dir is not None:
        data["depth_dir"] = os.path.relpath(camera_set.depth_dir, path.parent)
    if camera_set.extra:
        data["extra"] = camera_set.extra
    atomic_write_json(path, data)
