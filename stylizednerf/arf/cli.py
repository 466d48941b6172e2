"""Stage ``arf``: the ARF baseline for one scene x style -> ``results/{scene}/{style}/arf/stylize/``.

Reads what the stylize stage reads of the frozen NeRF (``results/{scene}/views``, the NeRF's
renderings of the training views, and ``results/{scene}/nerf/model.pt``) plus the style image;
no decoder and no latents. Writes, atomically, one folder:

* ``model.pt``: the appearance module in the stylize stage's layout (``render --stylized`` renders
  it: rule render_arf -> ``results/{scene}/{style}/arf/render/``, the evaluation's ``arf`` row),
  with the post colour transfer under ``color_transform``;
* ``losses.json`` (per-step terms and the resolved settings), ``views.png`` (rows: NeRF,
  recoloured NeRF, ARF, for a few training views), ``metadata.json`` (config, seed, versions,
  seconds of training: the time per style).
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from stylizednerf.benchmarks import time_split_line
from stylizednerf.device import resolve_device
from stylizednerf.fileio import atomic_dir, atomic_save_image, atomic_save_torch, atomic_write_json, check_writable
from stylizednerf.images import to_uint8
from stylizednerf.provenance import metadata
from stylizednerf.settings import ArfSettings, SettingsError
from stylizednerf.stylize.cli import parse_stage_settings, stage_parser


def arf(views_dir, model_path, style_path, style_name: str, out, settings: dict) -> dict:
    from stylizednerf.arf.train import ArfTrainer, resolve_settings
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.inputs import load_rgb, read_training_views, require
    from stylizednerf.stylize.field import load_field

    check_writable(Path(out).parent)  # before training, not after it
    views, cameras = read_training_views(views_dir)
    try:
        options = resolve_settings(settings, cameras.scene_kind)
    except SettingsError as error:
        raise SystemExit(str(error)) from None
    device = resolve_device(settings.get("device"))
    seed = int(settings.get("seed", 0))
    field = load_field(require(model_path, "NeRF model"), device)
    style_rgb = load_rgb(require(style_path, "style image")).permute(2, 0, 1)[None]
    start = time.perf_counter()
    trainer = ArfTrainer(options, field, views, VGGEncoder(), style_rgb, device, seed, cameras.scene_kind)
    setup = time.perf_counter() - start
    log = trainer.run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"arf: set-up {setup:.1f} s, training + post colour transfer {seconds - setup:.1f} s", flush=True)
    print(time_split_line("arf", trainer.phase_seconds), flush=True)  # the report's benchmark table reads it

    out = Path(out)
    with atomic_dir(out) as tmp:
        record = metadata("arf", settings, seed, style=style_name, seconds=round(seconds, 2))
        atomic_save_torch(tmp / "model.pt", {**trainer.export(), "style": style_name, "metadata": record})
        atomic_write_json(tmp / "losses.json", {"log": log, "settings": trainer.s})
        write_previews(trainer, tmp / "views.png", int(settings.get("previews", 4)))
        final = dict(log[-1]) if log else {}
        atomic_write_json(tmp / "metadata.json", {**record, "final": final, "views": trainer.views.count,
                                                  "scene_kind": cameras.scene_kind, "resolved": trainer.s,
                                                  "setup_seconds": round(setup, 2),
                                                  "phase_seconds": trainer.phase_seconds,
                                                  "pre_color_transform": trainer.pre_transfer.to_dict(),
                                                  "color_transform": trainer.post_transfer.to_dict()})
    return {"seconds": round(seconds, 2), "final": log[-1] if log else {}}


def write_previews(trainer, path, count: int) -> None:
    """Rows: the NeRF's rendering, its colour-transferred version (the content), ARF; a few training views."""
    count = max(1, min(count, trainer.views.count))
    picks = np.linspace(0, trainer.views.count - 1, count).round().astype(int)
    rows = [[to_uint8(trainer.views.rgb[i]) for i in picks], [to_uint8(trainer.contents[i]) for i in picks],
            [to_uint8(trainer.render_view(int(i))) for i in picks]]
    atomic_save_image(path, np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0))


def main(argv=None) -> int:
    parser = stage_parser("arf", "the ARF baseline: stylize the frozen NeRF's appearance (NNFM)")
    parser.add_argument("--views", required=True, help="results/{scene}/views")
    parser.add_argument("--model", required=True, help="the pre-trained NeRF")
    parser.add_argument("--style-image", required=True)
    parser.add_argument("--style", required=True, help="the style's name (recorded)")
    args = parser.parse_args(argv)
    settings = parse_stage_settings(args, ArfSettings)
    result = arf(args.views, args.model, args.style_image, args.style, args.out, settings)
    print(json.dumps(result, default=str))
    return 0
