"""Smooth camera paths for rendering videos (METHOD.md section 6).

Everything is in the frame of ``cameras.json`` (OpenCV axes: x right, y down, z forward).

* Forward-facing (LLFF) scenes: NeRF's ``render_path_spiral`` around the average pose. The
  radii are the 90th percentile of the camera offsets from the average pose (in its axes), the
  cameras look at a focus point on the average viewing axis whose depth is NeRF's
  ``1 / ((1 - 0.75) / (0.9 near) + 0.75 / (5 far))``, 2 rotations with a z-rate of 0.5.
  NeRF's offset ``[cos t, -sin t, -sin(0.5 t)]`` is in OpenGL axes; in OpenCV axes it reads
  ``[cos t, sin t, sin(0.5 t)]``.
* 360-degree captures: an orbit around the point nearest to all optical axes, at the cameras'
  mean radius and height, looking at that point.
"""

import numpy as np

from stylizednerf.cameras import Camera, CameraSet


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def look_at(position: np.ndarray, target: np.ndarray, down: np.ndarray) -> np.ndarray:
    """4x4 camera-to-world (OpenCV axes) at ``position`` looking at ``target``; y roughly ``down``."""
    forward = _normalize(target - position)
    right = _normalize(np.cross(down, forward))
    down_axis = np.cross(forward, right)
    c2w = np.eye(4)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, down_axis, forward, position
    return c2w


def average_pose(c2ws: np.ndarray) -> np.ndarray:
    """NeRF's ``poses_avg``: mean centre, mean viewing axis, mean down vector (OpenCV axes)."""
    center = c2ws[:, :3, 3].mean(axis=0)
    forward = _normalize(c2ws[:, :3, 2].sum(axis=0))
    down = _normalize(c2ws[:, :3, 1].sum(axis=0))
    return look_at(center, center + forward, down)


def _path_camera(template: Camera, name: str, c2w: np.ndarray, near: float, far: float) -> Camera:
    return Camera(name, template.width, template.height, template.fx, template.fy, template.cx, template.cy,
                  c2w, near, far)


def frame_name(index: int, count: int) -> str:
    return f"{index:0{max(3, len(str(count - 1)))}d}.png"


def spiral_path(cameras: CameraSet, n_frames: int, n_rotations: float = 2.0, zrate: float = 0.5,
                radius_percentile: float = 90.0) -> list[np.ndarray]:
    """Camera-to-world matrices of NeRF's LLFF spiral around the average pose."""
    c2ws = cameras.camera_to_world()
    avg = average_pose(c2ws)
    rotation, center = avg[:3, :3], avg[:3, 3]
    near = min(c.near for c in cameras.cameras)
    far = max(c.far for c in cameras.cameras)
    dt = 0.75
    focal = 1.0 / ((1.0 - dt) / (0.9 * near) + dt / (5.0 * far))
    offsets = (c2ws[:, :3, 3] - center) @ rotation  # camera centres in the average pose's axes
    radii = np.percentile(np.abs(offsets), radius_percentile, axis=0)
    target = center + rotation @ np.array([0.0, 0.0, focal])
    down = rotation[:, 1]
    poses = []
    for theta in np.linspace(0.0, 2.0 * np.pi * n_rotations, n_frames + 1)[:-1]:
        offset = np.array([np.cos(theta), np.sin(theta), np.sin(theta * zrate)]) * radii
        poses.append(look_at(center + rotation @ offset, target, down))
    return poses


def orbit_path(cameras: CameraSet, n_frames: int) -> list[np.ndarray]:
    """Camera-to-world matrices of a circle around the point the cameras look at."""
    c2ws = cameras.camera_to_world()
    origins, directions = c2ws[:, :3, 3], _normalize(c2ws[:, :3, 2])
    # least-squares point nearest to every optical axis: sum_i (I - d d^T)(p - o_i) = 0
    projectors = np.eye(3)[None] - directions[:, :, None] * directions[:, None, :]
    target = np.linalg.lstsq(projectors.sum(0), (projectors @ origins[:, :, None]).sum(0)[:, 0], rcond=None)[0]
    up = -_normalize(c2ws[:, :3, 1].sum(axis=0))
    rel = origins - target
    height = float((rel @ up).mean())
    horizontal = rel - (rel @ up)[:, None] * up
    radius = float(np.linalg.norm(horizontal, axis=1).mean())
    axis_a = _normalize(horizontal[0])
    axis_b = np.cross(up, axis_a)
    poses = []
    for theta in np.linspace(0.0, 2.0 * np.pi, n_frames + 1)[:-1]:
        position = target + up * height + radius * (np.cos(theta) * axis_a + np.sin(theta) * axis_b)
        poses.append(look_at(position, target, -up))
    return poses


def render_path(cameras: CameraSet, n_frames: int, width: int | None = None, image_dir=None) -> CameraSet:
    """The rendering path for a scene: spiral (forward) or orbit (360), ``n_frames`` cameras.

    Intrinsics are the first training camera's, rescaled to ``width`` when given; near/far span
    all training cameras.
    """
    if n_frames < 1:
        raise ValueError("the camera path needs at least one frame")
    poses = orbit_path(cameras, n_frames) if cameras.scene_kind == "360" else spiral_path(cameras, n_frames)
    template = cameras.cameras[0]
    if width is not None and width != template.width:
        template = template.scaled(width / template.width)
    near = min(c.near for c in cameras.cameras)
    far = max(c.far for c in cameras.cameras)
    path = [_path_camera(template, frame_name(i, n_frames), pose, near, far) for i, pose in enumerate(poses)]
    return CameraSet(path, image_dir if image_dir is not None else cameras.image_dir, cameras.scene_kind)
