"""Stage ``evaluate``: consistency, style and content numbers of one rendered sequence.

    python -m stylizednerf evaluate --frames DIR --depth DIR [--median-depth DIR] --cameras cameras.json \\
        [--style style.png] [--reference-frames DIR] --method NAME [--scene S --style-name X] \\
        --out eval.json --pairs pairs.csv [--error-maps maps.npz] --settings JSON

Works on any folder of frames: frames are matched to the cameras of ``cameras.json`` by file
name (any image suffix), depth maps are ``<depth>/<stem>.npy`` z-depth (the pre-trained NeRF's
depth of the same path, for every method, so all methods are warped with the same geometry).
Frames of another size than the cameras are accepted when the aspect ratio agrees (intrinsics
are rescaled); depth must have the frame's size. Numbers are computed in float32 (no autocast).

With ``--median-depth`` (the NeRF's median depth of the path, ``<dir>/<stem>.npy`` like
``--depth``) the consistency numbers are computed a second time, warping with that depth: per gap
``median_rmse``, ``median_lpips``, ``median_valid_fraction`` (and their ``*_pairs_used``) next to
the others, and the same columns in the pairs CSV. The expected depth favours a stylization that
attaches colour to the expected depth (``stylize.shading: surface``); the median depth is a warp
no stylization fits by construction. Without it the outputs are as they were.

Settings (config section ``evaluate``): gaps, depth_tolerance, lpips_checkpoint, batch_size,
max_pairs, style_size (and methods, used by the workflow), plus the global seed and device.
"""

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import stylizednerf  # noqa: F401
from stylizednerf.cameras import read_cameras
from stylizednerf.fileio import atomic_path, atomic_write_json, atomic_write_text
from stylizednerf.images import ImageReadError, open_rgb, read_rgb_float
from stylizednerf.paths import IMAGE_SUFFIXES
from stylizednerf.progress import progress_bar
from stylizednerf.provenance import metadata
from stylizednerf.warp import DEPTH_TOLERANCE
from stylizednerf.settings import EvaluateSettings
from stylizednerf.device import resolve_device as pick_device

DEFAULTS = EvaluateSettings().to_dict()  # the schema's evaluate section + seed, device


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]; SystemExit with one line naming the file if unreadable."""
    try:
        return read_rgb_float(path)
    except ImageReadError as error:
        raise SystemExit(f"error: {error}") from None


def find_frame(folder: Path, name: str) -> Path:
    exact = folder / name
    if exact.is_file():
        return exact
    for suffix in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
        candidate = folder / (Path(name).stem + suffix)
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: {folder}: no frame for camera '{name}'")


def load_sequence(frames_dir, depth_dir, cameras_path, reference_dir=None):
    """frames (N,H,W,3), depth (N,H,W), K (N,3,3), c2w (N,4,4), reference frames or None, frame names."""
    frames_dir, depth_dir = Path(frames_dir), Path(depth_dir)
    for folder, what in ((frames_dir, "--frames"), (depth_dir, "--depth")):
        if not folder.is_dir():
            raise SystemExit(f"error: {what} {folder}: not a folder")
    try:
        camera_set = read_cameras(cameras_path)
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"error: {cameras_path}: {error}") from error
    if len(camera_set) < 2:
        raise SystemExit(f"error: {cameras_path}: needs at least 2 frames")
    frames, depths, refs, Ks, c2ws, names = [], [], [], [], [], []
    for cam in camera_set.cameras:
        frame_path = find_frame(frames_dir, cam.file)
        image = read_rgb(frame_path)
        h, w = image.shape[:2]
        if (h, w) != (cam.height, cam.width):
            if abs(w / cam.width - h / cam.height) > 0.02:
                raise SystemExit(f"error: {frame_path}: size {w}x{h} does not match camera {cam.width}x{cam.height}")
            cam = cam.scaled(w / cam.width)
        depth = read_depth(depth_dir / (Path(cam.file).stem + ".npy"), (h, w))
        if reference_dir is not None:
            ref_path = find_frame(Path(reference_dir), cam.file)
            ref = read_rgb(ref_path)
            if ref.shape != image.shape:
                raise SystemExit(f"error: {ref_path}: size differs from {frame_path}")
            refs.append(ref)
        frames.append(image)
        depths.append(depth)
        Ks.append(cam.intrinsics)
        c2ws.append(cam.camera_to_world)
        names.append(frame_path.name)
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise SystemExit(f"error: {frames_dir}: frames have different sizes {sorted(shapes)}")
    as_tensor = lambda xs: torch.from_numpy(np.stack(xs)).float()  # noqa: E731
    return (as_tensor(frames), as_tensor(depths), as_tensor(Ks), as_tensor(c2ws),
            as_tensor(refs) if refs else None, names)


def read_depth(path: Path, shape) -> np.ndarray:
    """(H, W) float32 z-depth of ``path`` (.npy), which must have the frame's ``shape`` (H, W);
    SystemExit with one line naming the file otherwise."""
    if not path.is_file():
        raise SystemExit(f"error: {path}: depth map missing")
    depth = np.load(path, allow_pickle=False).astype(np.float32)
    depth = depth.reshape(depth.shape[:2]) if depth.ndim == 3 and depth.shape[2] == 1 else depth
    if depth.shape != tuple(shape):
        raise SystemExit(f"error: {path}: shape {depth.shape} differs from frame {shape[0]}x{shape[1]}")
    return depth


def load_depths(depth_dir, names, shape, option: str) -> torch.Tensor:
    """(N, H, W) z-depth ``<depth_dir>/<stem>.npy`` for the frames ``names`` of size ``shape``."""
    depth_dir = Path(depth_dir)
    if not depth_dir.is_dir():
        raise SystemExit(f"error: {option} {depth_dir}: not a folder")
    depths = [read_depth(depth_dir / (Path(name).stem + ".npy"), shape) for name in names]
    return torch.from_numpy(np.stack(depths)).float()


def with_median(scores: dict, median_scores: dict) -> dict:
    """``scores`` of :func:`consistency` with the numbers of the median-depth warp added as
    ``median_<key>`` to each gap's summary and each pair's row (the same pairs, in the same order)."""
    per_gap = {gap: {**summary, **{f"median_{k}": v for k, v in median_scores["per_gap"][gap].items() if k != "pairs"}}
               for gap, summary in scores["per_gap"].items()}
    pairs = []
    for row, median in zip(scores["pairs"], median_scores["pairs"], strict=True):
        assert (row["gap"], row["i"], row["j"]) == (median["gap"], median["i"], median["j"])
        pairs.append({**row, **{f"median_{k}": median[k] for k in ("rmse", "lpips", "valid_fraction")}})
    return {"pairs": pairs, "per_gap": per_gap}


def load_style(path, frame_shape, style_size=None) -> torch.Tensor:
    """Style image (H, W, 3) in [0, 1], resized so its short side equals the frames' (or ``style_size``)."""
    try:
        image = open_rgb(path)
    except ImageReadError as error:
        raise SystemExit(f"error: {error}") from None
    target = style_size or min(frame_shape[:2])
    scale = target / min(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    image = image.resize(size, Image.BICUBIC)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)


def error_maps(frames, depth, K, c2w, gaps, depth_tolerance) -> dict:
    """For the middle pair of each gap: warp of frame i into view j, frame j, mask (for figures)."""
    from stylizednerf.metrics.consistency import pair_indices, warp_pairs

    maps = {}
    for gap in gaps:
        starts = pair_indices(frames.shape[0], gap)
        if not starts:
            continue
        i = starts[len(starts) // 2]
        warped, target, mask = warp_pairs(frames, depth, K, c2w, [i], gap, depth_tolerance)
        maps[f"gap{gap}_warped"] = warped[0].cpu().numpy().astype(np.float16)
        maps[f"gap{gap}_target"] = target[0].cpu().numpy().astype(np.float16)
        maps[f"gap{gap}_mask"] = mask[0].cpu().numpy()
        maps[f"gap{gap}_pair"] = np.array([i, i + gap])
    return maps


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m stylizednerf evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", required=True, help="folder of rendered frames")
    p.add_argument("--depth", required=True, help="folder of z-depth maps <stem>.npy (pre-trained NeRF)")
    p.add_argument("--median-depth", default=None,
                   help="folder of the NeRF's median z-depth maps <stem>.npy: the consistency numbers again, "
                        "warped with it (median_* keys)")
    p.add_argument("--cameras", required=True, help="cameras.json of the path")
    p.add_argument("--style", help="style image: adds the AdaIN style loss")
    p.add_argument("--reference-frames", help="unstylized frames: adds the relu4_1 content loss")
    p.add_argument("--method", required=True, help="method name recorded in the output (gt, adain, ...)")
    p.add_argument("--scene", default=None)
    p.add_argument("--style-name", default=None)
    p.add_argument("--out", required=True, help="eval JSON")
    p.add_argument("--pairs", required=True, help="per-pair CSV")
    p.add_argument("--error-maps", default=None, help="NPZ with one warp per gap, for figures")
    p.add_argument("--settings", default="{}", help="JSON: the config's evaluate section + seed, device")
    p.add_argument("--runtime", default="{}",
                   help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = EvaluateSettings.parse(args.settings, args.runtime).to_dict()
    gaps = [int(g) for g in settings["gaps"]]
    if not gaps or min(gaps) < 1:
        raise SystemExit("error: settings gaps must be a non-empty list of integers >= 1")
    device = pick_device(settings["device"])
    torch.manual_seed(settings["seed"])

    frames, depth, K, c2w, reference, names = load_sequence(args.frames, args.depth, args.cameras,
                                                            args.reference_frames)
    median_depth = None
    if args.median_depth:
        median_depth = load_depths(args.median_depth, names, frames.shape[1:3], "--median-depth")
    if max(gaps) >= frames.shape[0]:
        print(f"note: {frames.shape[0]} frames: gaps >= that have no pairs", file=sys.stderr)

    from stylizednerf.metrics.consistency import consistency, load_vgg_encoder, pair_indices, style_content
    from stylizednerf.metrics.lpips import LPIPS

    checkpoint = settings["lpips_checkpoint"]
    if checkpoint and "${data}" in checkpoint:
        from stylizednerf.config import ConfigError, expand_data

        try:
            checkpoint = expand_data(checkpoint, "evaluate.lpips_checkpoint")
        except ConfigError as error:
            raise SystemExit(f"error: {error}") from error
    try:
        lpips_model = LPIPS(checkpoint=checkpoint).to(device)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from error
    total = sum(len(pair_indices(frames.shape[0], g, settings["max_pairs"])) for g in gaps)
    warps = [depth] if median_depth is None else [depth, median_depth]
    with progress_bar(total=total * len(warps), desc=f"evaluate {args.method}") as bar:
        scores = [consistency(frames.to(device), warp_depth.to(device), K.to(device), c2w.to(device), gaps=gaps,
                              lpips_model=lpips_model, depth_tolerance=settings["depth_tolerance"],
                              batch_size=settings["batch_size"], max_pairs=settings["max_pairs"], progress=bar)
                  for warp_depth in warps]
    scores = scores[0] if median_depth is None else with_median(*scores)

    extra = {}
    if args.style or reference is not None:
        encoder = load_vgg_encoder(device)
        style = load_style(args.style, frames.shape[1:3], settings["style_size"]).to(device) if args.style else None
        extra = style_content(encoder, frames.to(device), style=style,
                              reference=reference.to(device) if reference is not None else None)

    result = {
        "method": args.method, "scene": args.scene, "style": args.style_name,
        "frames_dir": str(Path(args.frames)), "style_image": args.style, "reference_frames": args.reference_frames,
        **({"median_depth_dir": str(Path(args.median_depth))} if median_depth is not None else {}),
        "frame_names": names, "n_frames": int(frames.shape[0]), "height": int(frames.shape[1]),
        "width": int(frames.shape[2]), "gaps": gaps, "short_gap": min(gaps), "long_gap": max(gaps),
        "per_gap": scores["per_gap"],
        "style_loss": extra.get("style_loss"), "content_loss": extra.get("content_loss"),
        "style_loss_per_frame": extra.get("style_loss_per_frame"),
        "content_loss_per_frame": extra.get("content_loss_per_frame"),
        "error_maps": args.error_maps, "lpips_weights": lpips_model.sources,
        "metadata": metadata("evaluate", config=settings, seed=settings["seed"], device=str(device)),
    }
    buffer = io.StringIO()
    columns = ["gap", "i", "j", "rmse", "lpips", "valid_fraction"]
    if median_depth is not None:
        columns += ["median_rmse", "median_lpips", "median_valid_fraction"]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(scores["pairs"])
    if args.error_maps:
        maps = error_maps(frames.to(device), depth.to(device), K.to(device), c2w.to(device), gaps,
                          settings["depth_tolerance"])
        with atomic_path(args.error_maps, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **maps)
    atomic_write_text(args.pairs, buffer.getvalue())
    atomic_write_json(args.out, result)
    for gap, summary in scores["per_gap"].items():
        print(f"{args.method} gap {gap}: rmse {summary['rmse']} lpips {summary['lpips']} "
              f"({summary['pairs']} pairs, valid {summary['valid_fraction']})")
        if median_depth is not None:
            print(f"{args.method} gap {gap}, median-depth warp: rmse {summary['median_rmse']} "
                  f"lpips {summary['median_lpips']} (valid {summary['median_valid_fraction']})")
    return 0
