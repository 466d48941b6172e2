"""Structure from motion with pycolmap (CPU): SIFT, matching, incremental mapping, undistortion.

Forward-facing captures have small baselines, and COLMAP's default initialisation (a first
pair seen under >= 16 degrees) may find no pair or register only part of the images. The
mapper is then retried with relaxed initialisation, and the model with the most registered
images wins (over all attempts and all models of an attempt: model 0 is not always it).
"""

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stylizednerf.cameras import Camera

# Each retry relaxes the initial pair (inliers, forward motion; the angle comes from the config),
# later registrations, and the triangulation angles below which points are dropped (COLMAP's
# 1.5 degrees leaves too few points when the whole capture spans a few degrees).
RELAXED = {"mapper.init_min_num_inliers": 50, "mapper.init_max_forward_motion": 0.99,
           "mapper.abs_pose_min_num_inliers": 15, "mapper.abs_pose_min_inlier_ratio": 0.15,
           "mapper.filter_min_tri_angle": 0.5, "triangulation.min_angle": 0.5}


@dataclass
class SfmOptions:
    max_image_size: int = 1600
    max_num_features: int = 8192
    matcher: str = "exhaustive"  # or "sequential" for long videos
    sequential_overlap: int = 10
    camera_model: str = "SIMPLE_RADIAL"
    single_camera: bool = True
    init_min_tri_angle: float = 16.0
    relaxed_init_min_tri_angles: list = field(default_factory=lambda: [4.0, 1.0])
    min_registered_fraction: float = 0.9
    undistort_min_shift_px: float = 0.25
    num_threads: int = -1
    # COLMAP's threads (feature extraction, matching and the mapper alike) reorder its work and give
    # other poses on every run; in one thread the same photos and seed give the same poses (tested)
    reproducible: bool = True
    seed: int = 0


@dataclass
class SfmResult:
    reconstruction: object  # pycolmap.Reconstruction of the best model
    attempts: list  # per attempt: options used, registered count per model, seconds
    timings: dict


def quiet_glog():
    import pycolmap

    pycolmap.logging.minloglevel = 2  # errors only
    pycolmap.logging.stderrthreshold = 2


def extract_and_match(database: Path, image_dir: Path, names: list[str], options: SfmOptions) -> dict:
    import pycolmap

    timings = {}
    pycolmap.set_random_seed(options.seed)  # RANSAC in two-view verification
    start = time.perf_counter()
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = options.camera_model
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = options.max_image_size
    extraction.num_threads = options.num_threads
    extraction.sift.max_num_features = options.max_num_features
    mode = pycolmap.CameraMode.SINGLE if options.single_camera else pycolmap.CameraMode.PER_IMAGE
    pycolmap.extract_features(database, image_dir, image_names=names, camera_mode=mode, reader_options=reader,
                              extraction_options=extraction, device=pycolmap.Device.cpu)
    timings["extract_s"] = time.perf_counter() - start
    start = time.perf_counter()
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = options.num_threads
    if options.matcher == "sequential":
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = options.sequential_overlap
        pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing,
                                  device=pycolmap.Device.cpu)
    elif options.matcher == "exhaustive":
        pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)
    else:
        raise ValueError(f"unknown matcher {options.matcher!r}")
    timings["match_s"] = time.perf_counter() - start
    return timings


def mapper_attempts(options: SfmOptions) -> list[dict]:
    """Mapper option overrides per attempt: COLMAP's defaults first, then relaxed ones."""
    attempts = [{"mapper.init_min_tri_angle": options.init_min_tri_angle}]
    for angle in options.relaxed_init_min_tri_angles:
        attempts.append({"mapper.init_min_tri_angle": float(angle), **RELAXED})
    return attempts


def run_mapper(database: Path, image_dir: Path, work_dir: Path, overrides: dict, options: SfmOptions) -> dict:
    import pycolmap

    pipeline = pycolmap.IncrementalPipelineOptions()
    pipeline.num_threads = options.num_threads
    pipeline.random_seed = options.seed
    pipeline.mapper.random_seed = options.seed
    pipeline.triangulation.random_seed = options.seed
    for key, value in overrides.items():
        group, name = key.split(".")
        setattr(getattr(pipeline, group), name, value)
    pycolmap.set_random_seed(options.seed)
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    return pycolmap.incremental_mapping(database, image_dir, work_dir, pipeline)


def reconstruct(image_dir: Path, names: list[str], work_dir: Path, options: SfmOptions) -> SfmResult:
    """Run SfM on ``names`` in ``image_dir``; the best model over all mapper attempts.

    Stops retrying as soon as an attempt registers every image. Returns reconstruction None
    when no attempt produced a model.
    """
    quiet_glog()
    database = work_dir / "database.db"
    timings = extract_and_match(database, image_dir, names, options)
    best, best_count, attempts = None, -1, []
    start = time.perf_counter()
    for index, overrides in enumerate(mapper_attempts(options)):
        attempt_start = time.perf_counter()
        models = run_mapper(database, image_dir, work_dir / f"mapper_{index}", overrides, options)
        counts = {int(k): int(m.num_reg_images()) for k, m in models.items()}
        attempts.append({"mapper": overrides, "registered_per_model": counts,
                         "seconds": time.perf_counter() - attempt_start})
        for model in models.values():
            if model.num_reg_images() > best_count:
                best, best_count = model, model.num_reg_images()
        if best_count >= len(names):
            break
    timings["map_s"] = time.perf_counter() - start
    return SfmResult(best, attempts, timings)


def distortion_shift_px(camera) -> float:
    """Largest pixel shift the camera's distortion causes along the image border."""
    import pycolmap

    if camera.model in (pycolmap.CameraModelId.SIMPLE_PINHOLE, pycolmap.CameraModelId.PINHOLE):
        return 0.0
    w, h = camera.width, camera.height
    t = np.linspace(0.0, 1.0, 33)
    border = np.concatenate([np.stack([t * w, np.zeros_like(t)], 1), np.stack([t * w, np.full_like(t, h)], 1),
                             np.stack([np.zeros_like(t), t * h], 1), np.stack([np.full_like(t, w), t * h], 1)])
    undistorted = camera.cam_from_img(border)  # normalised coordinates without distortion
    fx, fy = camera.focal_length_x, camera.focal_length_y
    cx, cy = camera.principal_point_x, camera.principal_point_y
    pinhole = np.stack([undistorted[:, 0] * fx + cx, undistorted[:, 1] * fy + cy], 1)
    return float(np.linalg.norm(pinhole - border, axis=1).max())


def undistort_model(model_dir: Path, image_dir: Path, out_dir: Path, num_threads: int = -1) -> tuple[Path, Path]:
    """COLMAP's undistortion of a model and its images; returns (images folder, sparse model folder)."""
    import pycolmap

    pycolmap.undistort_images(out_dir, model_dir, image_dir, output_type="COLMAP", jpeg_quality=95,
                              num_threads=num_threads)
    return out_dir / "images", out_dir / "sparse"


def to_pinhole(reconstruction) -> None:
    """Drop negligible distortion: replace every camera by a PINHOLE with the same intrinsics."""
    import pycolmap

    for camera_id, camera in list(reconstruction.cameras.items()):
        if camera.model == pycolmap.CameraModelId.PINHOLE:
            continue
        pinhole = pycolmap.Camera.create_from_model_name(camera_id, "PINHOLE", camera.mean_focal_length(),
                                                         camera.width, camera.height)
        pinhole.params = [camera.focal_length_x, camera.focal_length_y, camera.principal_point_x,
                          camera.principal_point_y]
        camera.model = pinhole.model
        camera.params = pinhole.params


def reconstruction_cameras(reconstruction) -> list[Camera]:
    """OpenCV camera-to-world, intrinsics and LLFF bounds (0.1/99.9 percentile of the z-depths of
    the sparse points each image sees) for every registered image, sorted by name."""
    import pycolmap

    xyz = {pid: p.xyz for pid, p in reconstruction.points3D.items()}
    cameras = []
    for image in sorted((reconstruction.images[i] for i in reconstruction.reg_image_ids()), key=lambda im: im.name):
        camera = image.camera
        if camera.model not in (pycolmap.CameraModelId.SIMPLE_PINHOLE, pycolmap.CameraModelId.PINHOLE):
            raise ValueError(f"camera of {image.name} is {camera.model_name}; undistort first")
        w2c = np.eye(4)
        w2c[:3] = image.cam_from_world().matrix()
        c2w = np.linalg.inv(w2c)
        ids = [p.point3D_id for p in image.points2D if p.has_point3D()]
        if ids:
            points = np.stack([xyz[i] for i in ids])
            depths = (points - c2w[:3, 3]) @ c2w[:3, 2]
            depths = depths[depths > 0]
        else:
            depths = np.empty(0)
        near, far = (np.percentile(depths, 0.1), np.percentile(depths, 99.9)) if len(depths) else (0.0, 0.0)
        cameras.append(Camera(image.name, camera.width, camera.height, camera.focal_length_x,
                              camera.focal_length_y, camera.principal_point_x, camera.principal_point_y,
                              c2w, float(near), float(far)))
    # Images that see no points borrow the scene's bounds.
    good = [c for c in cameras if c.far > 0]
    if good:
        scene_near, scene_far = min(c.near for c in good), max(c.far for c in good)
        for c in cameras:
            if c.far <= 0:
                c.near, c.far = scene_near, scene_far
    return cameras


def model_statistics(reconstruction, total: int) -> dict:
    return {
        "registered": int(reconstruction.num_reg_images()),
        "total": int(total),
        "registered_fraction": reconstruction.num_reg_images() / max(total, 1),
        "mean_reprojection_error_px": float(reconstruction.compute_mean_reprojection_error()),
        "mean_track_length": float(reconstruction.compute_mean_track_length()),
        "points": int(reconstruction.num_points3D()),
        "mean_observations_per_image": float(reconstruction.compute_mean_observations_per_reg_image()),
    }




def undistort_opencv_images(image_dir: Path, cameras: list[Camera], distortion: dict, out_dir: Path) -> list[Camera]:
    """Undistort images that come with OpenCV distortion (k1, k2, p1, p2) into pinhole images.

    Uses COLMAP's undistortion (the same as for SfM models): the output keeps every valid pixel
    it can, so its size and principal point may differ slightly from the input's.
    """
    import pycolmap
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    options = pycolmap.UndistortCameraOptions()
    result = []
    for camera in cameras:
        colmap_camera = pycolmap.Camera.create_from_model_name(1, "OPENCV", camera.fx, camera.width, camera.height)
        colmap_camera.params = [camera.fx, camera.fy, camera.cx, camera.cy, distortion["k1"], distortion["k2"],
                                distortion["p1"], distortion["p2"]]
        bitmap = pycolmap.Bitmap.read(str(image_dir / camera.file), as_rgb=True)
        if bitmap is None:
            raise SystemExit(f"error: {image_dir / camera.file}: unreadable image")
        undistorted, pinhole = pycolmap.undistort_image(options, bitmap, colmap_camera)
        array = undistorted.to_array()
        target = out_dir / camera.file
        image = Image.fromarray(array)
        if target.suffix.lower() in (".jpg", ".jpeg"):
            image.save(target, format="JPEG", quality=95)
        else:
            image.save(target, format="PNG")
        result.append(Camera(camera.file, pinhole.width, pinhole.height, pinhole.focal_length_x,
                             pinhole.focal_length_y, pinhole.principal_point_x, pinhole.principal_point_y,
                             camera.camera_to_world.copy(), camera.near, camera.far))
    return result
