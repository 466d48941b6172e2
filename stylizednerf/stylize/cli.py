"""The stylized NeRF's stages (METHOD.md sections 5-6).

* ``render-views``: the pre-trained NeRF's RGB, z-depth and world points of the training views,
  one view at a time (memory stays bounded) -> ``results/{scene}/views/``.
* ``stylize``: one scene x style: fine-tune the decoder and train the style module + latents
  (mutual or sequential) -> ``results/{scene}/{style}/stylize/``. With ``--checkpoint-dir`` a
  killed job resumes from ``state.pt`` there (:func:`training_checkpoint`: fingerprinted by the
  result settings, the style and the bytes of the views, NeRF, decoder, latents and style image;
  another job's checkpoint is set aside); the finished job removes it.
* ``render``: the stylized NeRF along the camera path (the style's mean latent) and at the
  held-out test views -> ``results/{scene}/{style}/render/``.
* ``render-path``: the unstylized NeRF along the same path (the evaluation's ``gt``) ->
  ``results/{scene}/path/``.
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from stylizednerf.cameras import CameraSet, read_cameras, write_cameras
from stylizednerf.checkpoint import Checkpoint, fingerprint, hash_files
from stylizednerf.fileio import atomic_dir, atomic_save_torch, atomic_write_json, check_writable
from stylizednerf.images import ImageReadError, read_rgb_float, to_uint8
from stylizednerf.progress import progress_bar
from stylizednerf.provenance import metadata, write_metadata
from stylizednerf.device import resolve_device as pick_device
from stylizednerf.settings import RenderPathSettings, RenderSettings, RenderViewsSettings, Settings, StylizeSettings

# the schema's render section (the typed RenderSettings), without seed/device
RENDER_DEFAULTS = {k: v for k, v in RenderSettings().to_dict().items() if k not in ("seed", "device")}
STYLIZE_CHECKPOINT = "stylize/1"  # checkpoint kinds: bump when a saved state changes shape
JOINT_CHECKPOINT = "stylize-joint/1"


def require(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path}: {what} not found")
    return path


def load_style_model(path, device, what: str = "stylize model"):
    """``(state, style module)`` of a stylize or stylize-joint job's model.pt; SystemExit with one
    line naming the file when it is missing, truncated or another kind of file."""
    from stylizednerf.model_files import ModelFileError, load_torch_file
    from stylizednerf.stylize.train import load_style_module

    try:
        state = load_torch_file(path, what)
        if not isinstance(state, dict) or "style_module" not in state or "mu" not in state:
            raise ModelFileError(path, f"not a {what} (no style module and latents)")
        try:
            module = load_style_module(state, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            first = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
            raise ModelFileError(path, f"not a {what} (its style module does not load: {first})") from None
    except ModelFileError as error:
        raise SystemExit(f"error: {error}") from None
    return state, module


def save_png(path, image) -> None:
    from PIL import Image

    Image.fromarray(to_uint8(image)).save(path)


def load_rgb(path) -> torch.Tensor:
    """(H, W, 3) float32 in [0, 1]; SystemExit with one line naming the file if unreadable."""
    try:
        return torch.from_numpy(read_rgb_float(path))
    except ImageReadError as error:
        raise SystemExit(f"error: {error}") from None


# ---- render-views ------------------------------------------------------------------------

def render_views(model_path, cameras_path, out, settings: dict) -> dict:
    from stylizednerf.stylize.field import load_field

    device = pick_device(settings.get("device"))
    field = load_field(require(model_path, "NeRF model"), device)
    cameras = read_cameras(require(cameras_path, "camera file"))
    train = field.train_indices(len(cameras))
    start = time.perf_counter()
    out = Path(out)
    with atomic_dir(out) as tmp:
        for sub in ("rgb", "depth", "points"):
            (tmp / sub).mkdir()
        kept = []
        for index in train:
            camera = cameras.cameras[index]
            rgb, depth, points = field.render_camera(camera)
            stem = Path(camera.file).stem
            save_png(tmp / "rgb" / f"{stem}.png", rgb)
            np.save(tmp / "depth" / f"{stem}.npy", depth.float().cpu().numpy())
            np.save(tmp / "points" / f"{stem}.npy", points.float().cpu().numpy())
            camera = type(camera)(**{**camera.__dict__, "file": f"{stem}.png"})
            kept.append(camera)
        extra = {"source_cameras": str(cameras_path), "source_indices": list(map(int, train))}
        write_cameras(tmp / "cameras.json", CameraSet(kept, tmp / "rgb", cameras.scene_kind, tmp / "depth", extra))
        stats = {"views": len(kept), "seconds": round(time.perf_counter() - start, 2)}
        write_metadata(tmp / "metadata.json", "render-views", settings, settings.get("seed"), stats=stats)
    return stats


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


# ---- stylize -----------------------------------------------------------------------------

def build_stylizer(views_dir, model_path, decoder_path, latents_path, style_path, style_name: str, settings: dict):
    """``(stylizer, resolved settings)`` of one scene x style from the pipeline's files (also used by
    bench/profile_stylize.py)."""
    from stylizednerf.stylization2d.decoder import load_decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.latents import read_style_latents
    from stylizednerf.settings import SettingsError
    from stylizednerf.stylize.train import Stylizer, resolve_settings, trainer_settings

    try:
        options = resolve_settings(trainer_settings(settings))
    except SettingsError as error:
        raise SystemExit(str(error)) from None
    start = time.perf_counter()
    device = pick_device(settings.get("device"))
    seed = int(settings.get("seed", 0))
    torch.manual_seed(seed)
    views, _ = read_training_views(views_dir)
    field = load_field(require(model_path, "NeRF model"), device)
    try:
        mu, sigma = read_style_latents(require(latents_path, "style latents"), [style_name])
    except KeyError as error:
        raise SystemExit(f"error: {error.args[0]}") from None
    style_rgb = load_rgb(require(style_path, "style image")).permute(2, 0, 1)[None]
    decoder = load_decoder(require(decoder_path, "decoder"))
    encoder = VGGEncoder()
    loaded = time.perf_counter()
    stylizer = Stylizer(options, field, views, encoder, decoder, style_rgb, mu, sigma, device, seed)
    print(f"set-up: files {loaded - start:.1f} s, stylizer {time.perf_counter() - loaded:.1f} s", flush=True)
    return stylizer, options


def stylize(views_dir, model_path, decoder_path, latents_path, style_path, style_name: str, out, settings: dict,
            checkpoint_dir=None) -> dict:
    check_writable(Path(out).parent)  # before training, not after it
    if checkpoint_dir:
        check_writable(checkpoint_dir)
    seed = int(settings.get("seed", 0))
    stylizer, options = build_stylizer(views_dir, model_path, decoder_path, latents_path, style_path, style_name,
                                       settings)

    checkpoints = training_checkpoint(
        checkpoint_dir, STYLIZE_CHECKPOINT, {**stylizer.s, "seed": seed, "style": style_name},
        lambda: {"views": hash_files(views_files(views_dir)), "model": hash_files([model_path]),
                 "decoder": hash_files([decoder_path]), "latents": hash_files([latents_path]),
                 "style_image": hash_files([style_path])})
    start = time.perf_counter()
    with checkpoints:
        log = stylizer.run(checkpoints if checkpoints.enabled else None, checkpoints.load())
    seconds = time.perf_counter() - start
    fit = stylizer.fit()
    print(f"fit of the 2D targets (training views): per-view codes {fit['mimic_mse']:.5f} MSE, "
          f"{fit['mimic_psnr']:.2f} dB; the style's mean latent {fit['mean_latent_psnr']:.2f} dB", flush=True)

    out = Path(out)
    with atomic_dir(out) as tmp:
        record = metadata("stylize", settings, seed, style=style_name, seconds=round(seconds, 2))
        atomic_save_torch(tmp / "model.pt", {**stylizer.export(), "style": style_name, "metadata": record})
        atomic_save_torch(tmp / "decoder.pt", {"decoder": stylizer.decoder.state_dict(), "fine_tuned_for": style_name})
        atomic_write_json(tmp / "losses.json", {"log": log, "settings": options})
        write_previews(stylizer, tmp / "views.png", int(settings.get("previews", 4)))
        final = {k: v for k, v in log[-1].items()} if log else {}
        atomic_write_json(tmp / "metadata.json", {**record, "final": final, "fit": fit, "views": stylizer.views.count})
    checkpoints.remove()  # the outputs are complete: a rerun starts afresh
    return {"seconds": round(seconds, 2), "final": log[-1] if log else {}, "fit": fit}


def views_files(views_dir) -> list[Path]:
    """The files of a views folder that :func:`read_training_views` reads."""
    cameras = read_cameras(require(Path(views_dir) / "cameras.json", "views camera file"))
    return [Path(views_dir) / "cameras.json", *cameras.image_paths(), *cameras.depth_paths()]


def training_checkpoint(folder, kind: str, settings: dict, inputs) -> Checkpoint:
    """The resumable checkpoint ``<folder>/state.pt`` of a stylize or stylize-joint job (no folder:
    none), written in the background (~20 checkpoints of ~45 MB per style at the paper's
    defaults); ``inputs`` (name -> digest) is a mapping or a function giving one, called only
    when there is a folder."""
    if not folder:
        return Checkpoint(None, {})
    inputs = inputs() if callable(inputs) else inputs
    return Checkpoint(Path(folder) / "state.pt", fingerprint(kind, settings, inputs),
                      log=lambda message: print(message, flush=True), background=True)


def write_previews(stylizer, path, count: int) -> None:
    """Rows: NeRF content, decoder stylization, stylized NeRF, for a few training views."""
    count = max(1, min(count, stylizer.views.count))
    picks = np.linspace(0, stylizer.views.count - 1, count).round().astype(int)
    targets = stylizer.stylize_views()
    rows = [[], [], []]
    H, W = stylizer.views.size
    for i in picks:
        latent = stylizer.latents(torch.tensor(int(i), device=stylizer.device))
        nerf, _ = stylizer.render_image(stylizer.views.K[i], stylizer.views.c2w[i], H, W, latent)
        rows[0].append(to_uint8(stylizer.views.rgb[i]))
        rows[1].append(to_uint8(targets[i]))
        rows[2].append(to_uint8(nerf))
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    from stylizednerf.fileio import atomic_save_image

    atomic_save_image(path, grid)


# ---- render / render-path ----------------------------------------------------------------

def path_cameras(cameras: CameraSet, settings: dict, frames_dir, camera_path=None) -> CameraSet:
    """The cameras to render: the scene's spiral/orbit (``frames``, ``width``), or the nerfstudio
    ``camera_path`` file when one is given (its own frames and size)."""
    if camera_path:
        from stylizednerf.stylize.nerfstudio_path import read_camera_path

        return read_camera_path(camera_path, cameras, frames_dir)
    from stylizednerf.stylize.camera_path import render_path

    frames = int(settings.get("frames", RENDER_DEFAULTS["frames"]))
    width = settings.get("width") or None
    return render_path(cameras, frames, width, image_dir=frames_dir)


def write_path_files(folder: Path, path: CameraSet, fps: int) -> None:
    """The rendered path's cameras: ``cameras.json`` (this project's) and ``camera_path.json``
    (nerfstudio's, :mod:`stylizednerf.stylize.nerfstudio_path`)."""
    from stylizednerf.stylize.nerfstudio_path import write_camera_path

    write_cameras(folder / "cameras.json", path)
    write_camera_path(folder / "camera_path.json", path, fps)


DEPTH_PREVIEW_FRAMES = 4


def _render_sequence(render_one, cameras: CameraSet, frames_dir: Path, depth_dir: Path) -> list[np.ndarray]:
    """Render every camera; PNG and depth files are written by a few threads while the next frames
    render (PNG compression of a frame costs more than rendering it on a GPU). Beside the depth
    folder, ``<depth folder>.png`` shows a few frames' depth (depth .npy files are for programs)."""
    from stylizednerf.depth_preview import depth_strip

    from PIL import Image

    frames_dir.mkdir(parents=True)
    depth_dir.mkdir(parents=True)

    def save(camera, image, depth):
        # zlib level 1: half the time of the default level for ~5 % larger files (a rendered
        # frame's PNG took longer than rendering it on an H100)
        Image.fromarray(image).save(frames_dir / camera.file, compress_level=1)
        np.save(depth_dir / (Path(camera.file).stem + ".npy"), depth)

    images, previews = [], {}
    picks = set(np.linspace(0, len(cameras) - 1, min(DEPTH_PREVIEW_FRAMES, len(cameras))).round().astype(int).tolist())
    with ThreadPoolExecutor(max_workers=4) as pool:
        pending = []
        for index, camera in enumerate(progress_bar(cameras.cameras, desc="render", unit="view")):
            rgb, depth = render_one(camera)
            image = to_uint8(rgb)
            depth = depth.float().cpu().numpy()
            pending.append(pool.submit(save, camera, image, depth))
            images.append(image)
            if index in picks:
                previews[index] = depth
        for future in pending:
            future.result()  # re-raises a failed write
    Image.fromarray(depth_strip([previews[i] for i in sorted(previews)])).save(depth_dir.with_suffix(".png"))
    return images


def render(stylize_dir, model_path, cameras_path, out, settings: dict, camera_path=None) -> dict:
    """The stylized NeRF of a stylize job (or of the ARF baseline, whose model file has the same
    layout plus a colour transform) along the camera path (or ``camera_path``, a nerfstudio file)
    and at the test views."""
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.video import write_video

    loading = time.perf_counter()
    device = pick_device(settings.get("device"))
    values = {**RENDER_DEFAULTS, **settings}
    state, module = load_style_model(Path(stylize_dir) / "model.pt", device)
    field = load_field(require(model_path, "NeRF model"), device)
    cameras = read_cameras(require(cameras_path, "camera file"))
    renderer = StyleRenderer(field, module, state, int(values["chunk"]), device)
    mu = state["mu"][0].to(device)
    out = Path(out)
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        path = path_cameras(cameras, values, tmp / "frames", camera_path)
        t0 = time.perf_counter()
        frames = _render_sequence(lambda cam: renderer.render(cam, mu), path, tmp / "frames", tmp / "depth")
        path_seconds = time.perf_counter() - t0
        write_path_files(tmp, path, int(values["fps"]))
        write_video(tmp / "video.mp4", frames, int(values["fps"]))
        print(f"render: loading {t0 - loading:.1f} s, {len(frames)} frames {path_seconds:.1f} s, "
              f"video {time.perf_counter() - t0 - path_seconds:.1f} s", flush=True)
        test = [cameras.cameras[i] for i in field.test_indices(len(cameras))]
        if test:
            _render_sequence(lambda cam: renderer.render(cam, mu), CameraSet(test, tmp / "test", cameras.scene_kind),
                             tmp / "test", tmp / "test_depth")
        stats = {"frames": len(frames), "path_seconds": round(path_seconds, 3),
                 "fps": round(len(frames) / max(path_seconds, 1e-9), 2), "test_views": len(test),
                 "seconds": round(time.perf_counter() - start, 2)}
        write_metadata(tmp / "metadata.json", "render", settings, settings.get("seed"), stats=stats,
                       style=state.get("style"))
    return stats


def render_unstylized_path(model_path, cameras_path, out, settings: dict, camera_path=None) -> dict:
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.video import write_video

    device = pick_device(settings.get("device"))
    values = {**RENDER_DEFAULTS, **settings}
    field = load_field(require(model_path, "NeRF model"), device)
    cameras = read_cameras(require(cameras_path, "camera file"))
    out = Path(out)
    with atomic_dir(out) as tmp:
        path = path_cameras(cameras, values, tmp / "frames", camera_path)

        def one(camera):
            rgb, depth, _ = field.render_camera(camera)
            return rgb, depth

        frames = _render_sequence(one, path, tmp / "frames", tmp / "depth")
        write_path_files(tmp, path, int(values["fps"]))
        write_video(tmp / "video.mp4", frames, int(values["fps"]))
        stats = {"frames": len(frames)}
        write_metadata(tmp / "metadata.json", "render-path", settings, settings.get("seed"), stats=stats)
    return stats


class StyleRenderer:
    """The stylized NeRF for rendering: frozen geometry + a trained style module."""

    def __init__(self, field, module, state: dict, chunk: int, device):
        self.field, self.module, self.chunk, self.device = field, module, chunk, torch.device(device)
        self.background = state.get("background")
        # a linear map of the rendered colours (the ARF baseline's post colour transfer), or None
        self.color_transform = None
        if state.get("color_transform") is not None:
            from stylizednerf.arf.color_transfer import ColorTransfer

            self.color_transform = ColorTransfer.from_dict(state["color_transform"])

    @torch.no_grad()
    def render(self, camera, latent) -> tuple[torch.Tensor, torch.Tensor]:
        from stylizednerf.stylize.rays import image_rays
        from stylizednerf.stylize.style_module import render_samples

        K = torch.tensor(camera.intrinsics, dtype=torch.float32, device=self.device)
        c2w = torch.tensor(camera.camera_to_world, dtype=torch.float32, device=self.device)
        origins, directions = image_rays(K, c2w, camera.height, camera.width)
        rgbs, depths = [], []
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        for start in range(0, origins.shape[0], self.chunk):
            sl = slice(start, start + self.chunk)
            samples = self.field.sample(origins[sl], directions[sl])
            with autocast:
                rgb = render_samples(self.module, samples.weights, samples.features,
                                     latent, background=self.background, positions=samples.positions)
            rgbs.append(rgb.float())
            depths.append(samples.depth.float())
        H, W = camera.height, camera.width
        rgb = torch.cat(rgbs)
        if self.color_transform is not None:
            rgb = self.color_transform.apply(rgb)
        return rgb.reshape(H, W, 3).clamp(0, 1), torch.cat(depths).reshape(H, W)


# ---- entry points ------------------------------------------------------------------------

def add_camera_path_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera-path", default=None,
                        help="a nerfstudio camera_path.json to render instead of the spiral/orbit (frames and width "
                             "come from it)")


def _parser(stage: str, doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m stylizednerf {stage}", description=doc)
    parser.add_argument("--settings", default="{}", help="JSON: the config section plus seed/device")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    return parser


def parse_stage_settings(args, settings_class: type[Settings]) -> dict:
    """``--settings`` + ``--runtime`` as the stage's typed settings (unknown keys: one line), as a dict."""
    return settings_class.parse(args.settings, args.runtime).to_dict()


def main_render_views(argv=None) -> int:
    parser = _parser("render-views", "NeRF renderings (rgb, depth, points) of the training views")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF (results/{scene}/nerf/model.pt)")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    args = parser.parse_args(argv)
    print(json.dumps(render_views(args.model, args.cameras, args.out, parse_stage_settings(args, RenderViewsSettings))))
    return 0


def main_stylize(argv=None) -> int:
    parser = _parser("stylize", "train the stylized NeRF of one scene x style")
    parser.add_argument("--views", required=True, help="results/{scene}/views")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--decoder", required=True, help="the pre-trained AdaIN decoder (decoder.pt)")
    parser.add_argument("--latents", required=True, help="style_latents.json from the VAE")
    parser.add_argument("--style-image", required=True)
    parser.add_argument("--style", required=True, help="the style's name (key in style_latents.json)")
    parser.add_argument("--checkpoint-dir", default=None, help="where a resumable checkpoint lives while training")
    args = parser.parse_args(argv)
    result = stylize(args.views, args.model, args.decoder, args.latents, args.style_image, args.style, args.out,
                     parse_stage_settings(args, StylizeSettings), args.checkpoint_dir)
    print(json.dumps(result, default=str))
    return 0


def main_render(argv=None) -> int:
    parser = _parser("render", "render the stylized NeRF along the camera path and at the test views")
    parser.add_argument("--stylized", required=True, help="results/{scene}/{style}/stylize")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    add_camera_path_option(parser)
    args = parser.parse_args(argv)
    print(json.dumps(render(args.stylized, args.model, args.cameras, args.out, parse_stage_settings(args, RenderSettings),
                            args.camera_path)))
    return 0


def main_render_path(argv=None) -> int:
    parser = _parser("render-path", "render the unstylized NeRF along the camera path")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    add_camera_path_option(parser)
    args = parser.parse_args(argv)
    print(json.dumps(render_unstylized_path(args.model, args.cameras, args.out,
                                            parse_stage_settings(args, RenderPathSettings), args.camera_path)))
    return 0
