"""The joint mode's stages (see :mod:`stylizednerf.stylize.joint`).

* ``stylize-joint``: one style module for a scene's style set, trained on each style's fine-tuned
  decoder's stylizations of the training views -> ``results/{scene}/joint/stylize/``; resumable
  as ``stylize`` is (its fingerprint holds the style list and every style's image and decoder).
* ``render-interpolation``: the joint module along the camera path while its code moves from the
  first style's mean latent through the others' to the last one's -> PNG frames, depth, an MP4
  and the per-frame codes in ``results/{scene}/joint/interpolation/``.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from stylizednerf.cameras import read_cameras
from stylizednerf.checkpoint import hash_files
from stylizednerf.settings import JointSettings, RenderInterpolationSettings
from stylizednerf.device import resolve_device
from stylizednerf.fileio import atomic_dir, atomic_save_torch, atomic_write_json, check_writable
from stylizednerf.images import to_uint8
from stylizednerf.provenance import metadata, write_metadata
from stylizednerf.stylize.cli import add_camera_path_option, parse_stage_settings, stage_parser
from stylizednerf.stylize.inputs import load_rgb, read_training_views, require, views_files
from stylizednerf.stylize.path_frames import RENDER_DEFAULTS, path_cameras, render_sequence, write_path_files
from stylizednerf.stylize.renderer import StyleRenderer, load_style_model
from stylizednerf.stylize.training_checkpoint import JOINT_CHECKPOINT, training_checkpoint


def stylize_targets(views, style_images: list[torch.Tensor], decoder_paths: list, encoder, device) -> torch.Tensor:
    """(S, V, H, W, 3) in [0, 1]: each style's decoder applied to the training views (CPU)."""
    from stylizednerf.stylization2d.decoder import load_decoder
    from stylizednerf.stylization2d.stylize import stylize_images

    content = views.rgb.permute(0, 3, 1, 2)
    out = []
    for style, path in zip(style_images, decoder_paths):
        decoder = load_decoder(require(path, "decoder")).to(device).eval()
        out.append(stylize_images(content, style, decoder, encoder, batch_size=4).permute(0, 2, 3, 1).cpu())
    return torch.stack(out)


def stylize_joint(views_dir, model_path, latents_path, styles: list[str], style_paths: list, decoder_paths: list,
                  out, settings: dict, checkpoint_dir=None) -> dict:
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.joint import JointStylizer
    from stylizednerf.stylize.latents import read_style_latents
    from stylizednerf.stylize.train import trainer_settings

    if not (len(styles) == len(style_paths) == len(decoder_paths)) or not styles:
        raise SystemExit("error: stylize-joint: give one style image and one decoder per style")
    check_writable(Path(out).parent)  # before training, not after it
    if checkpoint_dir:
        check_writable(checkpoint_dir)
    start = time.perf_counter()
    device = resolve_device(settings.get("device"))
    seed = int(settings.get("seed", 0))
    torch.manual_seed(seed)
    views, _ = read_training_views(views_dir)
    field = load_field(require(model_path, "NeRF model"), device)
    try:
        mu, sigma = read_style_latents(require(latents_path, "style latents"), styles)
    except KeyError as error:
        raise SystemExit(f"error: {error.args[0]}") from None
    style_rgb = [load_rgb(require(p, "style image")).permute(2, 0, 1)[None] for p in style_paths]
    from stylizednerf.stylization2d.vgg import VGGEncoder

    encoder = VGGEncoder().to(device).eval().requires_grad_(False)
    targets = stylize_targets(views, style_rgb, decoder_paths, encoder, device)
    try:
        stylizer = JointStylizer(trainer_settings(settings), field, views, targets, mu, sigma, device, seed,
                                 encoder=encoder, style_images=style_rgb)
    except KeyError as error:
        raise SystemExit(f"error: stylize-joint: {error.args[0]}") from None
    print(f"set-up {time.perf_counter() - start:.1f} s ({len(styles)} styles, {views.count} views)", flush=True)

    checkpoints = training_checkpoint(
        checkpoint_dir, JOINT_CHECKPOINT, {**stylizer.s, "seed": seed, "styles": list(styles)},
        lambda: {"views": hash_files(views_files(views_dir)), "model": hash_files([model_path]),
                 "latents": hash_files([latents_path]), "style_images": hash_files(style_paths),
                 "decoders": hash_files(decoder_paths)})
    t0 = time.perf_counter()
    with checkpoints:
        log = stylizer.run(checkpoints if checkpoints.enabled else None, checkpoints.load())
    seconds = time.perf_counter() - t0

    out = Path(out)
    with atomic_dir(out) as tmp:
        record = metadata("stylize-joint", settings, seed, styles=list(styles), seconds=round(seconds, 2))
        atomic_save_torch(tmp / "model.pt", {**stylizer.export(styles), "metadata": record})
        atomic_write_json(tmp / "losses.json", {"log": log, "settings": stylizer.s})
        write_joint_previews(stylizer, styles, tmp / "views.png")
        atomic_write_json(tmp / "metadata.json", {**record, "final": log[-1] if log else {}})
    checkpoints.remove()
    return {"seconds": round(seconds, 2), "styles": list(styles), "final": log[-1] if log else {}}


def write_joint_previews(stylizer, styles: list[str], path) -> None:
    """One row per style: its 2D target and the joint module's rendering of the first training view."""
    from PIL import Image

    rows = []
    for s in range(len(styles)):
        target = to_uint8(stylizer.targets[s, 0])
        nerf = to_uint8(stylizer.render_training_view(s, 0))
        rows.append(np.concatenate([target, nerf], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def render_interpolation(joint_dir, model_path, cameras_path, out, settings: dict, camera_path=None) -> dict:
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.joint import interpolation_latents
    from stylizednerf.stylize.video import write_video

    device = resolve_device(settings.get("device"))
    values = {**RENDER_DEFAULTS, **settings}
    state, module = load_style_model(Path(joint_dir) / "model.pt", device, "joint model")
    if "styles" not in state:
        raise SystemExit(f"error: {Path(joint_dir) / 'model.pt'}: not a joint model (no style list); run stylize-joint")
    field = load_field(require(model_path, "NeRF model"), device)
    cameras = read_cameras(require(cameras_path, "camera file"))
    renderer = StyleRenderer(field, module, state, int(values["chunk"]), device)
    out = Path(out)
    with atomic_dir(out) as tmp:
        path = path_cameras(cameras, values, tmp / "frames", camera_path)
        codes = interpolation_latents(state["mu"].float(), len(path.cameras)).to(device)
        code_of = {camera.file: code for camera, code in zip(path.cameras, codes)}  # frame files are unique
        t0 = time.perf_counter()
        frames = render_sequence(lambda camera: renderer.render(camera, code_of[camera.file]), path,
                                 tmp / "frames", tmp / "depth")
        seconds = time.perf_counter() - t0
        write_path_files(tmp, path, int(values["fps"]))
        write_video(tmp / "video.mp4", frames, int(values["fps"]), title="style transition (joint mode)")
        np.save(tmp / "latents.npy", codes.cpu().numpy())
        stats = {"frames": len(frames), "styles": state["styles"], "path_seconds": round(seconds, 3)}
        write_metadata(tmp / "metadata.json", "render-interpolation", settings, settings.get("seed"), stats=stats)
    return stats


def main_stylize_joint(argv=None) -> int:
    parser = stage_parser("stylize-joint", "train one style module for a scene's whole style set")
    parser.add_argument("--views", required=True, help="results/{scene}/views")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--latents", required=True, help="style_latents.json from the VAE")
    parser.add_argument("--styles", nargs="+", required=True, help="style names (keys in style_latents.json)")
    parser.add_argument("--style-images", nargs="+", required=True, help="one per style, in order")
    parser.add_argument("--decoders", nargs="+", required=True,
                        help="one decoder.pt per style, in order (the per-style jobs' fine-tuned decoders)")
    parser.add_argument("--checkpoint-dir", default=None, help="where a resumable checkpoint lives while training")
    args = parser.parse_args(argv)
    result = stylize_joint(args.views, args.model, args.latents, args.styles, args.style_images, args.decoders,
                           args.out, parse_stage_settings(args, JointSettings), args.checkpoint_dir)
    print(json.dumps(result, default=str))
    return 0


def main_render_interpolation(argv=None) -> int:
    parser = stage_parser("render-interpolation", "render the joint module along the path, moving through the styles")
    parser.add_argument("--joint", required=True, help="results/{scene}/joint/stylize")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--cameras", required=True, help="the scene's cameras.json")
    add_camera_path_option(parser)
    args = parser.parse_args(argv)
    print(json.dumps(render_interpolation(args.joint, args.model, args.cameras, args.out,
                                          parse_stage_settings(args, RenderInterpolationSettings), args.camera_path)))
    return 0
