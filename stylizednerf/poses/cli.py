"""``python -m stylizednerf poses``: camera poses for one scene, by SfM (pycolmap) or imported.

Writes, atomically (built in a temporary folder under --out, renamed at the end):

* ``<out>/images/``: the working images: EXIF-oriented, downscaled copies (LLFF's images_N),
  undistorted when the camera has distortion;
* ``<out>/poses/cameras.json`` (image_dir ../images), ``poses_bounds.npy`` (LLFF),
  ``transforms.json`` (nerfstudio), ``report.json``, ``cameras.png``, and ``sparse/0`` (the
  COLMAP model, SfM or an imported COLMAP model only).

When the source ships poses and SfM is used, report.json also holds the SfM poses' errors
against the shipped ones (after a similarity alignment), so the two can be compared.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from stylizednerf.cameras import Camera, CameraSet, write_cameras
from stylizednerf.config import ConfigError, resolve_scene_source
from stylizednerf.fileio import partial_prefix, remove_leftovers
from stylizednerf.paths import list_images
from stylizednerf.poses import accuracy, importers, sfm
from stylizednerf.poses.export import write_exports
from stylizednerf.poses.images import _names, prepare_images
from stylizednerf.poses.report import plot_cameras
from stylizednerf.provenance import metadata
from stylizednerf.settings import ColmapSettings


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m stylizednerf poses", description=__doc__.split("\n")[0])
    parser.add_argument("--scene", required=True, help="scene name (for messages and the report)")
    parser.add_argument("--source", required=True,
                        help="LLFF folder, folder of photos (with a COLMAP sparse/0 for --poses provided), "
                        "transforms.json, or a cameras.json (e.g. the demo's)")
    parser.add_argument("--poses", choices=["colmap", "provided"], default="colmap")
    parser.add_argument("--downscale", type=int, default=1, help="image downscale factor (LLFF images_N)")
    parser.add_argument("--kind", choices=["forward", "360"], default="forward")
    parser.add_argument("--out", required=True, help="scene results folder, e.g. results/fern")
    parser.add_argument("--settings", default="{}", help="JSON: the colmap config section plus seed/device")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads when settings say -1")
    return parser.parse_args(argv)


def sfm_options(settings: dict, threads: int | None) -> sfm.SfmOptions:
    known = {f.name for f in fields(sfm.SfmOptions)}
    options = sfm.SfmOptions(**{k: v for k, v in settings.items() if k in known})
    if options.reproducible:
        options.num_threads = 1  # COLMAP's threads give other poses on every run
    elif options.num_threads is None or options.num_threads <= 0:
        options.num_threads = threads if threads else -1
    return options


def find_inputs(source: str, downscale: int, poses: str = "provided"):
    """(source image paths, image folder for messages, downscale still to apply, shipped poses or None)."""
    path = Path(source)
    if path.is_file() and importers.is_camera_file(path):
        scene = importers.import_camera_file(path)
        return scene.sources, path.parent, downscale, scene
    try:
        found = resolve_scene_source(source, downscale, key="--source")
    except ConfigError as error:
        raise SystemExit(f"error: {error}") from None
    if found.kind == "demo":
        raise SystemExit("error: --source demo: pass the demo's cameras.json (results/inputs/demo/cameras.json)")
    if found.kind == "llff":
        scene = importers.import_llff(found.poses_file, found.images)
        # images_N are already downscaled by N.
        remaining = 1 if found.images.name == f"images_{downscale}" else downscale
        return scene.sources, found.images, remaining, scene
    if found.kind == "transforms":
        scene = importers.import_transforms(found.poses_file)
        return scene.sources, found.images, downscale, scene
    if found.kind == "colmap" and poses == "provided":
        scene = importers.import_colmap(found.poses_file, found.images)
        return scene.sources, found.images, downscale, scene
    # Photos; with 'poses: colmap' a COLMAP model beside them is not read: SfM runs on every photo, as before.
    return list_images(found.images), found.images, downscale, None


def scale_camera(camera: Camera, width: int, height: int) -> Camera:
    sx, sy = width / camera.width, height / camera.height
    return Camera(camera.file, width, height, camera.fx * sx, camera.fy * sy, camera.cx * sx, camera.cy * sy,
                  np.asarray(camera.camera_to_world, dtype=np.float64).copy(), camera.near, camera.far)


def downscale_working_images(cameras: list[Camera], images: Path, downscale: int, build: Path) -> list[Camera]:
    """Replace ``images`` by copies downscaled by ``downscale``; return the cameras scaled to them."""
    small = build / "images_small"
    size = prepare_images([images / c.file for c in cameras], images, small, downscale)
    shutil.rmtree(images)
    os.replace(small, images)
    return [scale_camera(c, *size) for c in cameras]


def provided_poses(scene, work_images: Path, size, build: Path):
    width, height = size
    cameras = [scale_camera(c, width, height) for c in scene.cameras]
    images = build / "images"
    if scene.distortion:
        cameras = sfm.undistort_opencv_images(work_images, cameras, scene.distortion, images)
        shutil.rmtree(work_images)
    else:
        os.replace(work_images, images)
    stats = {"registered": len(cameras), "total": len(cameras), "registered_fraction": 1.0,
             "mean_reprojection_error_px": None, "mean_track_length": None, "points": 0,
             "undistorted": bool(scene.distortion), "distortion": scene.distortion, "bounds": scene.bounds}
    return cameras, images, stats, None


def colmap_poses(name: str, work_images: Path, names: list[str], options: sfm.SfmOptions, build: Path):
    work = build / "sfm"
    work.mkdir()
    result = sfm.reconstruct(work_images, names, work, options)
    model = result.reconstruction
    registered = set() if model is None else {model.images[i].name for i in model.reg_image_ids()}
    fraction = len(registered) / len(names)
    if fraction < options.min_registered_fraction:
        missing = [n for n in names if n not in registered]
        raise SystemExit(f"error: {name}: SfM registered {len(registered)} of {len(names)} images "
                         f"(min_registered_fraction {options.min_registered_fraction}); not registered: "
                         f"{_names(missing)}")
    cameras, images, stats, points, undistort_s = model_poses(model, work_images, len(names), options, build)
    result.timings["undistort_s"] = undistort_s
    stats.update({"not_registered": sorted(set(names) - registered), "attempts": result.attempts,
                  "timings_s": result.timings})
    shutil.rmtree(work)
    return cameras, images, stats, points


def model_poses(model, work_images: Path, total: int, options: sfm.SfmOptions, build: Path):
    """A COLMAP model of ``work_images`` (SfM's or imported) to working images, ``poses/sparse/0`` and
    cameras: undistorted by COLMAP when its distortion moves pixels by more than
    ``undistort_min_shift_px``, else its cameras made pinhole; near/far from its sparse points."""
    import pycolmap

    work = build / "model"
    work.mkdir()
    model_dir = work / "distorted"
    model_dir.mkdir()
    model.write(model_dir)
    shift = max(sfm.distortion_shift_px(c) for c in model.cameras.values())
    images = build / "images"
    start = time.perf_counter()
    if shift > options.undistort_min_shift_px:
        undistorted_images, undistorted_model = sfm.undistort_model(model_dir, work_images, work / "undistorted",
                                                                    options.num_threads)
        os.replace(undistorted_images, images)
        model = pycolmap.Reconstruction(undistorted_model)
        shutil.rmtree(work_images)
    else:
        sfm.to_pinhole(model)
        os.replace(work_images, images)
    undistort_s = time.perf_counter() - start
    sparse = build / "poses" / "sparse" / "0"
    sparse.mkdir(parents=True)
    model.write(sparse)
    stats = sfm.model_statistics(model, total)
    stats.update({"distortion_shift_px": shift, "undistorted": shift > options.undistort_min_shift_px,
                  "bounds": "sparse point depths 0.1/99.9%"})
    points = np.array([p.xyz for p in model.points3D.values()]).reshape(-1, 3)
    cameras = sfm.reconstruction_cameras(model)
    shutil.rmtree(work)
    return cameras, images, stats, points, undistort_s


def run(args) -> dict:
    settings = ColmapSettings.parse(args.settings, args.runtime).to_dict()
    options = sfm_options(settings, args.threads)
    sources, folder, downscale, shipped = find_inputs(args.source, args.downscale, args.poses)
    if args.poses == "provided" and shipped is None:
        raise SystemExit(f"error: {args.source}: poses 'provided' needs poses_bounds.npy, transforms.json, "
                         "a COLMAP model (sparse/0) or cameras.json")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out / "poses")  # a build folder of a killed run
    build = Path(tempfile.mkdtemp(prefix=partial_prefix(out / "poses"), dir=out))
    try:
        work_images = build / "images_work"
        names = [p.name for p in sources]
        (build / "poses").mkdir()
        start = time.perf_counter()
        if args.poses == "provided" and shipped.model is None:
            size = prepare_images(sources, folder, work_images, downscale)
            cameras, images, stats, points = provided_poses(shipped, work_images, size, build)
        else:
            # SfM sees the photos at their own size (LLFF runs COLMAP on the full-size photos: small
            # images cost accuracy); the working images are then downscaled copies. An imported
            # COLMAP model is of the full-size photos too, and is then treated as SfM's own.
            prepare_images(sources, folder, work_images, 1)
            if args.poses == "provided":
                cameras, images, stats, points, _ = model_poses(shipped.model, work_images, len(sources), options,
                                                                build)
            else:
                cameras, images, stats, points = colmap_poses(args.scene, work_images, names, options, build)
            if downscale > 1:
                cameras = downscale_working_images(cameras, images, downscale, build)
                stats["sfm_image_size"] = [int(s * downscale) for s in (cameras[0].width, cameras[0].height)]
        stats["seconds"] = time.perf_counter() - start
        poses_dir = build / "poses"
        write_cameras(poses_dir / "cameras.json",
                      CameraSet(cameras, images, args.kind, extra={"poses": args.poses, "source": str(args.source)}))
        write_exports(cameras, images, poses_dir)
        c2w = np.stack([c.camera_to_world for c in cameras])
        reference_in_model = None
        if shipped is not None and args.poses == "colmap":
            estimated = {c.file: c.camera_to_world for c in cameras}
            reference = {c.file: c.camera_to_world for c in shipped.cameras}
            errors = accuracy.match_and_compare(estimated, reference)
            stats["reference"] = {k: v for k, v in errors.items() if k not in ("rotation", "translation")}
            # Reference centres drawn in the model's frame: invert the estimated -> reference similarity.
            ref = np.stack([reference[n] for n in errors["names"]])[:, :3, 3]
            rotation = np.asarray(errors["rotation"])
            reference_in_model = np.tile(np.eye(4), (len(ref), 1, 1))
            reference_in_model[:, :3, 3] = (ref - np.asarray(errors["translation"])) @ rotation / errors["scale"]
        report = {"scene": args.scene, "poses": args.poses, "image_size": [cameras[0].width, cameras[0].height],
                  **stats, "metadata": metadata("poses", settings, settings.get("seed"))}
        (poses_dir / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        title = (f"{args.scene}: {stats['registered']}/{stats['total']} registered"
                 + (f", {stats['points']} points" if points is not None else " (provided poses)"))
        plot_cameras(poses_dir / "cameras.png", c2w, points, title, reference_in_model)
        # Publish: images first, then poses (the file later stages wait for).
        for part in ("images", "poses"):
            target = out / part
            if target.exists():
                shutil.rmtree(target)
            os.replace(build / part, target)
        return report
    finally:
        shutil.rmtree(build, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    report = run(args)
    line = f"{args.scene}: {report['registered']}/{report['total']} registered"
    if report.get("mean_reprojection_error_px") is not None:
        line += f", reprojection {report['mean_reprojection_error_px']:.3f} px, {report['points']} points"
    if "reference" in report:
        ref = report["reference"]
        line += (f"; vs shipped poses: rotation mean {ref['rotation_mean_deg']:.3f} max "
                 f"{ref['rotation_max_deg']:.3f} deg, centre mean {100 * ref['centre_mean_rel']:.2f}% of spread")
    print(line)
    return 0
