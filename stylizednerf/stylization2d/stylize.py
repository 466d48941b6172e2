"""Per-frame AdaIN stylization (the 2D baseline): ``python -m stylizednerf stylize-2d``.

    python -m stylizednerf stylize-2d --decoder results/stylization2d/decoder.pt \
        --style results/styles/mondrian.png --out out_dir [--alpha 1.0] IMAGE_OR_FOLDER ...

Writes one PNG per input image (same stem) into ``--out``, each the size of its input.
Python API: :func:`stylize_images`.
"""

import argparse
import json
from pathlib import Path

import torch

from stylizednerf.stylization2d.adain import adain, blend
from stylizednerf.stylization2d.decoder import crop_to, load_decoder, pad_to_multiple
from stylizednerf.settings import AdainSettings, settings_argument
from stylizednerf.device import resolve_device
from stylizednerf.progress import progress_bar


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing (fp32) elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def _encode_style(encoder, style: torch.Tensor) -> torch.Tensor:
    # only the statistics matter, and max-pooling floors odd sizes: pad only images too small to encode
    return encoder(pad_to_multiple(style) if min(style.shape[-2:]) < 8 else style)


def adain_target(encoder, content: torch.Tensor, style_feat: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """What the decoder decodes: AdaIN of the relu4_1 features of contents (B, 3, H, W) in [0, 1]
    (reflect-padded to multiples of 8) with the statistics of ``style_feat`` (1 or B, 512, h, w),
    blended with the content features by ``alpha``. The one AdaIN encode step of the project."""
    content_feat = encoder(pad_to_multiple(content))
    target = adain(content_feat, style_feat)
    return target if alpha == 1.0 else blend(content_feat.float(), target, alpha)


def decode_target(decoder, target: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The decoder's image of AdaIN targets, cropped back to the contents' ``height`` x ``width``."""
    return crop_to(decoder(target), height, width)


@torch.no_grad()
def encode_style(style: torch.Tensor, decoder, encoder) -> torch.Tensor:
    """relu4_1 features of one style image (1, 3, h, w), as :func:`stylize_images` computes them
    (the decoder's device, its autocast), to reuse across calls: ``stylize_images(..., style_feat=)``."""
    device = next(decoder.parameters()).device
    with autocast(device):
        return _encode_style(encoder, style.to(device))


def stylize_images(images: torch.Tensor, style: torch.Tensor, decoder, encoder, alpha: float = 1.0,
                   batch_size: int = 8, grad: bool = False, clamp: bool = True,
                   style_feat: torch.Tensor | None = None) -> torch.Tensor:
    """AdaIN-stylize ``images`` (N, 3, H, W) in [0,1] with ``style`` (1 or N, 3, h, w) in [0,1].

    Any H, W >= 1: inputs are reflect-padded to multiples of 8 and outputs cropped back, so the
    result has the inputs' size. ``alpha`` in [0, 1] blends the AdaIN target with the content
    features (stylization strength). ``grad=True`` keeps the graph (for fine-tuning the decoder)
    and processes everything as one batch. Runs on the decoder's device, bf16 autocast on CUDA.
    ``style_feat``: the batch-1 style's features from :func:`encode_style` (not encoded again).
    """
    device = next(decoder.parameters()).device
    height, width = images.shape[-2:]
    style = style.to(device)
    outputs = []
    if style.shape[0] not in (1, images.shape[0]):
        raise ValueError(f"style batch {style.shape[0]} must be 1 or the number of images {images.shape[0]}")
    with torch.set_grad_enabled(grad), autocast(device):
        shared_style = style_feat if style_feat is not None else (
            _encode_style(encoder, style) if style.shape[0] == 1 else None)
        step = images.shape[0] if grad else batch_size
        for start in range(0, images.shape[0], step):
            chunk = images[start:start + step].to(device)
            style_feat = shared_style if shared_style is not None else _encode_style(
                encoder, style[start:start + step])
            out = decode_target(decoder, adain_target(encoder, chunk, style_feat, alpha), height, width).float()
            outputs.append(out.clamp(0, 1) if clamp else out)
    return torch.cat(outputs)


def main(argv=None) -> int:
    from stylizednerf.stylization2d.data import content_image_paths, load_rgb, to_tensor
    from stylizednerf.stylization2d.vgg import VGGEncoder

    parser = argparse.ArgumentParser(prog="python -m stylizednerf stylize-2d", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="images, folders of images, or cameras.json files")
    parser.add_argument("--decoder", required=True,
                        help="decoder.pt from pretrain-decoder, or a stylize job's fine-tuned decoder.pt")
    parser.add_argument("--style", required=True, help="style image")
    parser.add_argument("--out", required=True, help="output folder (PNG per input, same stem)")
    parser.add_argument("--bundle", action="store_true",
                        help="write --out atomically as a frame folder: OUT/frames/*.png plus OUT/cameras.json "
                             "(a copy of the single cameras.json input, pointing at frames/); for evaluation")
    parser.add_argument("--alpha", type=float, default=None, help="stylization strength in [0, 1] (default: adain.alpha)")
    parser.add_argument("--style-size", type=int, default=None,
                        help="shorter side of the style image (default: adain.style_size)")
    parser.add_argument("--device", default=None, help="auto|cpu|cuda (default: settings or auto)")
    parser.add_argument("--settings", default="{}", help="JSON settings (device, alpha, style_size)")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    args = parser.parse_args(argv)
    typed = AdainSettings.parse(args.settings, args.runtime)
    given = {**settings_argument("--settings", args.settings),  # these beat the flags
             **settings_argument("--runtime", args.runtime)}
    device = resolve_device(args.device or typed.device)
    alpha = float(given.get("alpha", typed.alpha if args.alpha is None else args.alpha))
    if not 0.0 <= alpha <= 1.0:
        raise SystemExit(f"error: alpha: {alpha} is not in [0, 1]")
    if not Path(args.decoder).is_file():
        raise SystemExit(f"error: {args.decoder}: no such decoder file")

    paths = content_image_paths(args.inputs)
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise SystemExit("error: inputs: two input images share a file name stem; outputs would collide")
    decoder = load_decoder(args.decoder, map_location=device).to(device).eval()  # a bad file fails first
    encoder = VGGEncoder().to(device)
    style = to_tensor(load_rgb(args.style, short_side=int(given.get("style_size", typed.style_size if args.style_size is None else args.style_size))))
    if args.bundle:
        if len(args.inputs) != 1 or not args.inputs[0].endswith(".json"):
            raise SystemExit("error: --bundle needs exactly one cameras.json input")
        from stylizednerf.cameras import read_cameras, write_cameras
        from stylizednerf.fileio import atomic_dir

        cameras = read_cameras(args.inputs[0])
        with atomic_dir(args.out) as tmp:
            _stylize_files(paths, tmp / "frames", style, decoder, encoder, alpha)
            cameras.image_dir = tmp / "frames"
            write_cameras(tmp / "cameras.json", cameras)
    else:
        _stylize_files(paths, Path(args.out), style, decoder, encoder, alpha)
    print(f"stylized {len(paths)} images -> {args.out}")
    return 0


def _stylize_files(paths, out_dir, style, decoder, encoder, alpha):
    from stylizednerf.fileio import atomic_save_image
    from stylizednerf.stylization2d.data import load_rgb, to_tensor, to_uint8

    style_feat = encode_style(style, decoder, encoder)  # once, not per frame (a 512-px VGG pass each)
    for path in progress_bar(paths, desc="stylize-2d", unit="img"):
        image = to_tensor(load_rgb(path))
        result = stylize_images(image, style, decoder, encoder, alpha=alpha, style_feat=style_feat)
        atomic_save_image(Path(out_dir) / f"{path.stem}.png", to_uint8(result[0]))
