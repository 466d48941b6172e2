"""The stylized NeRF's stages (METHOD.md sections 5-6).

* ``render-views``: the pre-trained NeRF's RGB, z-depth and world points of the training views,
  one view at a time (memory stays bounded) -> ``results/{scene}/views/``.
* ``stylize``: one scene x style: fine-tune the decoder and train the style module + latents
  (mutual or sequential) -> ``results/{scene}/{style}/stylize/``. With ``--checkpoint-dir`` a
  killed job resumes from ``state.pt`` there (:mod:`.training_checkpoint`: fingerprinted by the
  result settings, the style and the bytes of the views, NeRF, decoder, latents and style image;
  another job's checkpoint is set aside); the finished job removes it.
* ``render``: the stylized NeRF along the camera path (the style's mean latent) and at the
  held-out test views -> ``results/{scene}/{style}/render/``.
* ``render-path``: the unstylized NeRF along the same path (the evaluation's ``gt``), with its
  expected z-depth (``depth/``) and median z-depth (``depth_median/``) -> ``results/{scene}/path/``.

The parts they share with the other stages live apart: :mod:`.inputs` (reading files),
:mod:`.training_checkpoint`, :mod:`.renderer` (a trained model file rendered), :mod:`.path_frames`
(a camera path rendered to files). Here: the stages and their argument parsing.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from stylizednerf.cameras import CameraSet, read_cameras, write_cameras
from stylizednerf.checkpoint import hash_files
from stylizednerf.fileio import atomic_dir, atomic_save_torch, atomic_write_json, check_writable
from stylizednerf.images import to_uint8
from stylizednerf.benchmarks import time_split_line
from stylizednerf.provenance import metadata, write_metadata
from stylizednerf.device import resolve_device as pick_device
from stylizednerf.settings import RenderPathSettings, RenderSettings, RenderViewsSettings, Settings, StylizeSettings
from stylizednerf.stylize.inputs import load_rgb, read_training_views, require, views_files
from stylizednerf.stylize.path_frames import RENDER_DEFAULTS, path_cameras, render_sequence, write_path_files
from stylizednerf.stylize.renderer import StyleRenderer, load_style_model
from stylizednerf.stylize.training_checkpoint import STYLIZE_CHECKPOINT, training_checkpoint


def save_png(path, image) -> None:
    from PIL import Image

    Image.fromarray(to_uint8(image)).save(path)


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
    print(time_split_line("stylize", stylizer.phase_seconds), flush=True)  # the report's benchmark table reads it
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
        atomic_write_json(tmp / "metadata.json", {**record, "final": final, "fit": fit, "views": stylizer.views.count,
                                                  "target_drift": stylizer.target_drift,
                                                  "phase_seconds": stylizer.phase_seconds})
    checkpoints.remove()  # the outputs are complete: a rerun starts afresh
    return {"seconds": round(seconds, 2), "final": log[-1] if log else {}, "fit": fit}


def write_previews(stylizer, path, count: int) -> None:
    """Rows: NeRF content, decoder stylization, stylized NeRF, for a few training views."""
    count = max(1, min(count, stylizer.views.count))
    picks = np.linspace(0, stylizer.views.count - 1, count).round().astype(int)
    targets = stylizer.stylize_views()
    rows = [[], [], []]
    H, W = stylizer.views.size
    for i in picks:
        latent = stylizer.latents(torch.tensor(int(i), device=stylizer.device))
        nerf, _ = stylizer.field.render_image(stylizer.views.K[i], stylizer.views.c2w[i], H, W, latent)
        rows[0].append(to_uint8(stylizer.views.rgb[i]))
        rows[1].append(to_uint8(targets[i]))
        rows[2].append(to_uint8(nerf))
    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    from stylizednerf.fileio import atomic_save_image

    atomic_save_image(path, grid)


# ---- render / render-path ----------------------------------------------------------------


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
        frames = render_sequence(lambda cam: renderer.render(cam, mu), path, tmp / "frames", tmp / "depth")
        path_seconds = time.perf_counter() - t0
        write_path_files(tmp, path, int(values["fps"]))
        write_video(tmp / "video.mp4", frames, int(values["fps"]), title=f"{state.get('style', '')} (stylized)")
        print(f"render: loading {t0 - loading:.1f} s, {len(frames)} frames {path_seconds:.1f} s, "
              f"video {time.perf_counter() - t0 - path_seconds:.1f} s", flush=True)
        test = [cameras.cameras[i] for i in field.test_indices(len(cameras))]
        if test:
            render_sequence(lambda cam: renderer.render(cam, mu), CameraSet(test, tmp / "test", cameras.scene_kind),
                             tmp / "test", tmp / "test_depth", depth_preview=False)  # the path's depth.png suffices
        else:  # declared outputs of the workflow's render rules: there even when no view is held out
            (tmp / "test").mkdir()
            (tmp / "test_depth").mkdir()
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

        # the median depth beside the expected one: the evaluation's second warp (see evaluate)
        frames = render_sequence(field.render_camera_with_median, path, tmp / "frames", tmp / "depth",
                                 tmp / "depth_median", depth_video=tmp / "depth.mp4", fps=int(values["fps"]))
        write_path_files(tmp, path, int(values["fps"]))
        write_video(tmp / "video.mp4", frames, int(values["fps"]), title="NeRF (no style)")
        stats = {"frames": len(frames)}
        write_metadata(tmp / "metadata.json", "render-path", settings, settings.get("seed"), stats=stats)
    return stats


# ---- entry points ------------------------------------------------------------------------

def add_camera_path_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera-path", default=None,
                        help="a nerfstudio camera_path.json to render instead of the spiral/orbit (frames and width "
                             "come from it)")


def stage_parser(stage: str, doc: str) -> argparse.ArgumentParser:
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
    parser = stage_parser("render-views", "NeRF renderings (rgb, depth, points) of the training views")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF (results/{scene}/nerf/model.pt)")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    args = parser.parse_args(argv)
    print(json.dumps(render_views(args.model, args.cameras, args.out, parse_stage_settings(args, RenderViewsSettings))))
    return 0


def main_stylize(argv=None) -> int:
    parser = stage_parser("stylize", "train the stylized NeRF of one scene x style")
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
    parser = stage_parser("render", "render the stylized NeRF along the camera path and at the test views")
    parser.add_argument("--stylized", required=True, help="results/{scene}/{style}/stylize")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    add_camera_path_option(parser)
    args = parser.parse_args(argv)
    print(json.dumps(render(args.stylized, args.model, args.cameras, args.out, parse_stage_settings(args, RenderSettings),
                            args.camera_path)))
    return 0


def main_render_path(argv=None) -> int:
    parser = stage_parser("render-path", "render the unstylized NeRF along the camera path")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    add_camera_path_option(parser)
    args = parser.parse_args(argv)
    print(json.dumps(render_unstylized_path(args.model, args.cameras, args.out,
                                            parse_stage_settings(args, RenderPathSettings), args.camera_path)))
    return 0
