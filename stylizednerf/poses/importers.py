"""Import the poses a dataset ships: LLFF ``poses_bounds.npy``, ``transforms.json``, a COLMAP model,
our ``cameras.json``.

Every importer returns an :class:`ImportedScene`: source image paths and one OpenCV-axes
:class:`~stylizednerf.cameras.Camera` per image at the source images' resolution, plus lens
distortion when the dataset gives one (the caller undistorts the working images). A COLMAP
model is returned as the model itself: the stage treats it exactly as its own SfM result.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylizednerf.cameras import FORMAT, OPENCV_TO_OPENGL, Camera, read_cameras
from stylizednerf.paths import frame_image, list_images
from stylizednerf.poses.images import oriented_size

# LLFF stores rotation columns as [down, right, backwards]; OpenCV wants [right, down, forwards].
LLFF_TO_OPENCV = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


@dataclass
class ImportedScene:
    sources: list[Path]
    cameras: list[Camera]  # at the source images' resolution, file = source file name
    distortion: dict | None = None  # OpenCV k1, k2, p1, p2 when non-zero
    bounds: str = "provided"  # how near/far were obtained
    # A COLMAP reconstruction (pycolmap.Reconstruction), cameras then empty: the stage undistorts it
    # and derives cameras and near/far from its sparse points as after its own SfM (sfm.py).
    model: object | None = None


def llff_to_opencv_c2w(poses: np.ndarray) -> np.ndarray:
    """(N, 3, 4) LLFF [down, right, back | t] -> (N, 4, 4) OpenCV camera-to-world."""
    c2w = np.tile(np.eye(4), (len(poses), 1, 1))
    c2w[:, :3, :3] = poses[:, :, :3] @ LLFF_TO_OPENCV
    c2w[:, :3, 3] = poses[:, :, 3]
    return c2w


def opencv_to_llff(c2w: np.ndarray) -> np.ndarray:
    """(N, 4, 4) OpenCV camera-to-world -> (N, 3, 4) LLFF [down, right, back | t]."""
    out = np.empty((len(c2w), 3, 4))
    out[:, :, :3] = c2w[:, :3, :3] @ LLFF_TO_OPENCV.T  # LLFF_TO_OPENCV is its own inverse
    out[:, :, 3] = c2w[:, :3, 3]
    return out


def import_llff(poses_file: Path, image_dir: Path) -> ImportedScene:
    """LLFF: rows of 17 = 3x5 [R|t|hwf] (hwf at full resolution) + near, far; images sorted by name."""
    data = np.load(poses_file)
    if data.ndim != 2 or data.shape[1] != 17:
        raise SystemExit(f"error: {poses_file}: expected an N x 17 array, got shape {data.shape}")
    paths = list_images(image_dir)
    if len(paths) != len(data):
        raise SystemExit(f"error: {poses_file}: {len(data)} poses but {len(paths)} images in {image_dir}")
    matrices = data[:, :15].reshape(-1, 3, 5)
    c2w = llff_to_opencv_c2w(matrices[:, :, :4])
    width, height = oriented_size(paths[0])
    cameras = []
    for path, matrix, pose, (near, far) in zip(paths, matrices, c2w, data[:, 15:17]):
        full_h, full_w, focal = matrix[:, 4]
        # hwf is at full resolution: rescale focal to the images used (images_N).
        sx, sy = width / full_w, height / full_h
        cameras.append(Camera(path.name, width, height, focal * sx, focal * sy, width / 2, height / 2,
                              pose, float(near), float(far)))
    return ImportedScene(paths, cameras)


def convergence_depths(c2w: np.ndarray) -> np.ndarray:
    """z-depth, in each camera, of the point closest to all optical axes (least squares).

    A weak pull towards the camera centroid keeps the solve stable when axes are nearly parallel.
    """
    centres, axes = c2w[:, :3, 3], c2w[:, :3, 2]
    spread = max(np.linalg.norm(centres - centres.mean(0), axis=1).mean(), 1e-9)
    projectors = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]
    weight = 1e-3
    lhs = projectors.sum(0) + weight * np.eye(3)
    rhs = np.einsum("nij,nj->i", projectors, centres) + weight * (centres.mean(0) + axes.mean(0) * spread)
    focus = np.linalg.solve(lhs, rhs)
    return np.einsum("ni,ni->n", focus[None] - centres, axes)


# nerfstudio camera_model values this importer honours: working images are pinhole, and the only
# distortion it can undo is OpenCV's k1, k2, p1, p2 (sfm.undistort_opencv_images). A file without
# camera_model (instant-ngp) is read as OPENCV, as before.
SUPPORTED_CAMERA_MODELS = ("PINHOLE", "OPENCV")
OPENCV_DISTORTION_KEYS = ("k1", "k2", "p1", "p2")
# Higher-order terms nerfstudio files may carry (k3: OpenCV r^6; k4: fisheye). Non-zero, the images
# would be undistorted wrongly, so they are refused rather than dropped.
UNSUPPORTED_DISTORTION_KEYS = ("k3", "k4", "k5", "k6")


def check_camera_model(transforms_file: Path, data: dict, frame: dict, index: int) -> None:
    """SystemExit with one line naming the file, key and value when frame ``index``'s camera cannot be
    modelled. A frame's own key (named ``frames[<index>].<key>``) overrides the file's global one."""
    def value(key, default=None):
        return frame.get(key, data.get(key, default))

    def name(key):
        return f"frames[{index}].{key}" if key in frame else key

    camera_model = value("camera_model", "OPENCV")
    if camera_model not in SUPPORTED_CAMERA_MODELS:
        raise SystemExit(f"error: {transforms_file}: {name('camera_model')} '{camera_model}' is not supported "
                         f"(supported: {', '.join(SUPPORTED_CAMERA_MODELS)}; undistort the images first)")
    for key in UNSUPPORTED_DISTORTION_KEYS:
        if float(value(key) or 0.0) != 0.0:
            raise SystemExit(f"error: {transforms_file}: {name(key)} = {value(key)} is not supported "
                             f"(only {', '.join(OPENCV_DISTORTION_KEYS)} can be undistorted)")
    if camera_model == "PINHOLE":
        # nerfstudio would still apply these; a pinhole with distortion is a contradiction we do not guess at.
        for key in OPENCV_DISTORTION_KEYS:
            if float(value(key) or 0.0) != 0.0:
                raise SystemExit(f"error: {transforms_file}: {name(key)} = {value(key)} but camera_model is "
                                 "'PINHOLE' (a pinhole has no distortion; use 'OPENCV')")


def import_transforms(transforms_file: Path) -> ImportedScene:
    """instant-ngp / nerfstudio: OpenGL camera-to-world, fl_x/fl_y/cx/cy (global or per frame), k1,k2,p1,p2.

    ``camera_model`` (global or per frame) must be PINHOLE or OPENCV (missing: OPENCV); other
    models and distortion terms beyond k1, k2, p1, p2 stop the stage (:func:`check_camera_model`).
    The file has no depth bounds: near/far are set around the depth d at which the optical
    axes converge (near = d/10, far = 3 d); ``bounds`` says so.
    """
    data = json.loads(Path(transforms_file).read_text())
    frames = data.get("frames") or []
    if not frames:
        raise SystemExit(f"error: {transforms_file}: no frames")
    root = Path(transforms_file).parent
    paths = [frame_image(root, f["file_path"]) for f in frames]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"error: {transforms_file}: image(s) not found: {', '.join(missing[:12])}")
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise SystemExit(f"error: {transforms_file}: frames share file names; flatten them into one folder")
    c2w = np.stack([np.asarray(f["transform_matrix"], dtype=np.float64) for f in frames]) @ OPENCV_TO_OPENGL
    depths = convergence_depths(c2w)
    depths = np.where(depths > 0, depths, np.median(depths[depths > 0]) if (depths > 0).any() else 1.0)
    cameras, distortions = [], set()
    for index, (path, frame, pose, depth) in enumerate(zip(paths, frames, c2w, depths)):
        value = lambda key, default=None: frame.get(key, data.get(key, default))  # noqa: E731
        check_camera_model(transforms_file, data, frame, index)
        width = int(value("w") or oriented_size(path)[0])
        height = int(value("h") or oriented_size(path)[1])
        fx = value("fl_x")
        if fx is None:  # nerf-synthetic: horizontal field of view only
            fx = 0.5 * width / np.tan(0.5 * float(value("camera_angle_x")))
        fy = value("fl_y", fx)
        cx, cy = value("cx", width / 2), value("cy", height / 2)
        distortions.add(tuple(float(value(k, 0.0)) for k in ("k1", "k2", "p1", "p2")))
        cameras.append(Camera(path.name, width, height, float(fx), float(fy), float(cx), float(cy), pose,
                              float(depth) / 10, float(depth) * 3))
    if len(distortions) > 1:
        raise SystemExit(f"error: {transforms_file}: per-frame distortion differs; not supported")
    coefficients = distortions.pop()
    distortion = dict(zip(("k1", "k2", "p1", "p2"), coefficients)) if any(coefficients) else None
    return ImportedScene(paths, cameras, distortion, bounds="axes convergence depth d: near d/10, far 3d")


def is_camera_file(path: Path) -> bool:
    try:
        return json.loads(Path(path).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def import_camera_file(cameras_file: Path) -> ImportedScene:
    """Our own cameras.json (e.g. the demo's true cameras)."""
    camera_set = read_cameras(cameras_file)
    return ImportedScene(camera_set.image_paths(), list(camera_set.cameras))


# COLMAP's undistorter maps every other camera model to a pinhole; an equirectangular camera has none.
COLMAP_MODELS_REFUSED = ("EQUIRECTANGULAR",)


def import_colmap(model_dir: Path, image_dir: Path) -> ImportedScene:
    """A COLMAP model (``cameras``, ``images``, ``points3D`` as .bin or .txt) of the photos in ``image_dir``.

    Its registered images, sorted by name, are the scene; photos the model does not hold are left
    out. Camera sizes must be the photos' sizes: COLMAP ignores EXIF orientation, the working
    copies do not, so a rotated photo would not match its camera.
    """
    import pycolmap

    try:
        model = pycolmap.Reconstruction(model_dir)
    except Exception as error:  # a broken file surfaces as varied C++ errors (ValueError, IndexError, ...)
        reason = str(error).split("] ", 1)[-1].strip() or type(error).__name__
        raise SystemExit(f"error: {model_dir}: cannot read the COLMAP model ({reason})") from None
    images = sorted((model.images[i] for i in model.reg_image_ids()), key=lambda image: image.name)
    if not images:
        raise SystemExit(f"error: {model_dir}: the COLMAP model has no registered images")
    for camera in model.cameras.values():
        if camera.model_name in COLMAP_MODELS_REFUSED:
            raise SystemExit(f"error: {model_dir}: camera {camera.camera_id} model '{camera.model_name}' is "
                             "not supported (no pinhole equivalent)")
    nested = [image.name for image in images if Path(image.name).name != image.name]
    if nested:
        raise SystemExit(f"error: {model_dir}: image names with folders ({', '.join(nested[:3])}); "
                         "flatten them into one folder")
    paths = [image_dir / image.name for image in images]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"error: {model_dir}: {len(missing)} registered image(s) not found in {image_dir}: "
                         f"{', '.join(missing[:12])}")
    checked = set()
    for image, path in zip(images, paths):
        camera = image.camera
        if camera.camera_id in checked:
            continue
        checked.add(camera.camera_id)
        size = oriented_size(path)
        if size != (camera.width, camera.height):
            raise SystemExit(f"error: {model_dir}: camera {camera.camera_id} is {camera.width}x{camera.height} "
                             f"but {path.name} is {size[0]}x{size[1]} (as displayed, EXIF orientation applied)")
    return ImportedScene(paths, [], bounds="sparse point depths 0.1/99.9%", model=model)
