"""Render paths as nerfstudio ``camera_path.json`` files, both ways.

* Out: every rendered path (``render``, ``render-path``, ``render-interpolation``) also writes
  its cameras as a ``camera_path.json`` that ``ns-render camera-path`` and the nerfstudio viewer
  read, so the same path can be rendered by another NeRF of the scene.
* In: a scene's ``camera_path`` (config) replaces the spiral/orbit: the path a user drew in the
  nerfstudio viewer or wrote by hand.

nerfstudio's format (``nerfstudio/cameras/camera_paths.py``, ``get_path_from_json``):
``render_width``/``render_height``, ``camera_type``, and per camera a row-major 4x4
``camera_to_world`` in OpenGL axes (x right, y up, z back) and a vertical ``fov`` in degrees;
the principal point is the image centre, ``fx = fy = 0.5 * height / tan(fov / 2)``.

Poses are in the world frame of this scene's ``cameras.json``, which is the frame of the
``transforms.json`` that the poses stage exports. A path exported from the nerfstudio viewer of a
model trained on that file is in nerfstudio's normalised frame (its ``dataparser_transforms.json``):
map it back to the data frame first.
"""

import json
import math
from pathlib import Path

import numpy as np

from stylizednerf.cameras import Camera, CameraSet

OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])  # flips y and z; its own inverse


def to_camera_path(path: CameraSet, fps: int) -> dict:
    """The nerfstudio camera path of ``path`` (cameras of one size; square pixels assumed, as
    nerfstudio's format has one field of view per camera)."""
    first = path.cameras[0]
    cameras = []
    for camera in path.cameras:
        c2w = np.asarray(camera.camera_to_world, dtype=np.float64) @ OPENCV_TO_OPENGL
        fov = math.degrees(2.0 * math.atan(0.5 * camera.height / camera.fy))
        cameras.append({"camera_to_world": c2w.reshape(-1).tolist(), "fov": fov,
                        "aspect": camera.width / camera.height, "file": camera.file})
    return {"camera_type": "perspective", "render_width": first.width, "render_height": first.height,
            "fps": fps, "seconds": len(cameras) / fps, "camera_path": cameras}


def write_camera_path(file, path: CameraSet, fps: int) -> None:
    Path(file).write_text(json.dumps(to_camera_path(path, fps), indent=1) + "\n")


def parse_camera_path(data: dict, source: str = "camera path") -> tuple[int, int, list[tuple[np.ndarray, float]]]:
    """``(width, height, [(camera_to_world in OpenGL axes (4, 4), vertical fov in degrees)])`` of
    nerfstudio camera path ``data``. Raises ValueError with one line naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: not a nerfstudio camera path (a JSON object)")
    kind = data.get("camera_type", "perspective")
    if kind != "perspective":
        raise ValueError(f"{source}: camera_type '{kind}' is not supported (perspective only)")
    try:
        width, height = int(data["render_width"]), int(data["render_height"])
        entries = list(data["camera_path"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{source}: needs render_width, render_height and camera_path ({error})") from None
    if width < 1 or height < 1:
        raise ValueError(f"{source}: render size {width}x{height} is empty")
    if not entries:
        raise ValueError(f"{source}: camera_path has no cameras")
    cameras = []
    for index, entry in enumerate(entries):
        try:
            c2w = np.asarray(entry["camera_to_world"], dtype=np.float64).reshape(4, 4)
            fov = float(entry["fov"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: camera {index}: needs a 16-number camera_to_world and a fov ({error})") from None
        if not np.isfinite(c2w).all() or not 0.0 < fov < 180.0:
            raise ValueError(f"{source}: camera {index}: pose not finite or fov {fov} not in (0, 180)")
        rotation = c2w[:3, :3]
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-3):
            raise ValueError(f"{source}: camera {index}: camera_to_world is not a rotation (scaled or sheared)")
        cameras.append((c2w, fov))
    return width, height, cameras


def from_camera_path(data: dict, like: CameraSet, image_dir, source: str = "camera path") -> CameraSet:
    """The cameras of nerfstudio camera path ``data`` (:func:`parse_camera_path`), near/far and
    scene kind from the training cameras ``like``, frames named ``000.png``...."""
    from stylizednerf.stylize.camera_path import frame_name

    width, height, entries = parse_camera_path(data, source)
    near = min(c.near for c in like.cameras)
    far = max(c.far for c in like.cameras)
    cameras = []
    for index, (c2w, fov) in enumerate(entries):
        focal = 0.5 * height / math.tan(math.radians(fov) / 2.0)
        cameras.append(Camera(frame_name(index, len(entries)), width, height, focal, focal, width / 2.0,
                              height / 2.0, c2w @ OPENCV_TO_OPENGL, near, far))
    return CameraSet(cameras, Path(image_dir), like.scene_kind)


def read_camera_path(file, like: CameraSet, image_dir) -> CameraSet:
    """:func:`from_camera_path` of a ``camera_path.json`` file; SystemExit with one line if bad."""
    file = Path(file)
    try:
        data = json.loads(file.read_text())
        return from_camera_path(data, like, image_dir, str(file))
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: {file}: cannot read the camera path ({error})") from None
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
