"""``python -m stylizednerf prepare-style --name N --source demo|PATH --out results/styles/N.png``.

Every style ends up as an RGB PNG no larger than ``max_size`` on its longest side:

* ``demo`` styles are generated (:mod:`stylizednerf.demo.styles`) at ``style_size``;
* files are read from any PIL mode by the project's one image reader (:mod:`stylizednerf.images`):
  EXIF orientation applied, transparency composited on white, palettes expanded, CMYK converted,
  16-bit and 32-bit greyscale scaled to 8 bits (not clipped).

A file that cannot be decoded (e.g. a truncated JPEG) stops with one line naming it and writes
nothing.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from stylizednerf.fileio import atomic_save_image, atomic_write_json
from stylizednerf.provenance import metadata
from stylizednerf.settings import StyleImageSettings

DEFAULT_MAX_SIZE = StyleImageSettings().max_size  # the schema's style_images.max_size
DEFAULT_STYLE_SIZE = StyleImageSettings().style_size  # the schema's demo.style_size
# The VGG encoder's relu4_1 is 1/8 of its input: a side below 16 px leaves fewer than 2x2
# features, too few for the channel spread (the style's statistics) to mean anything.
MIN_SIDE = 16
MAX_ASPECT = 10  # longest / shortest side: beyond it, a strip rather than a painting


def style_size_problem(width: int, height: int, max_size: int = DEFAULT_MAX_SIZE) -> str | None:
    """What makes a ``width`` x ``height`` style image unusable (after the downscale to
    ``max_size``), in words; None when it is usable."""
    if max(width, height) > MAX_ASPECT * min(width, height):
        return f"{width}x{height} px, sides further apart than {MAX_ASPECT}:1"
    factor = min(1.0, max_size / max(width, height))
    shortest = round(min(width, height) * factor)
    if shortest < MIN_SIDE:
        scaled = f" ({shortest} px after the downscale to {max_size})" if factor < 1 else ""
        return f"{width}x{height} px, a side below the VGG encoder's minimum of {MIN_SIDE} px{scaled}"
    return None


def downscale(image, max_size: int):
    """Shrink so the longest side is at most ``max_size`` (aspect kept); never enlarge."""
    from PIL import Image

    longest = max(image.size)
    if longest <= max_size:
        return image
    factor = max_size / longest
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def load_style_image(path, max_size: int = DEFAULT_MAX_SIZE, check_size: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file; SystemExit with one line naming it if unreadable (or,
    with ``check_size``, of an unusable size: :func:`style_size_problem`)."""
    from stylizednerf.images import ImageReadError, open_rgb

    try:
        rgb = open_rgb(path)
    except ImageReadError as error:
        raise SystemExit(f"error: style image '{error.path}' cannot be read: {error.reason}") from None
    problem = style_size_problem(*rgb.size, max_size) if check_size else None
    if problem:
        raise SystemExit(f"error: style image '{path}': {problem}")
    return np.asarray(downscale(rgb, max_size))


def prepare_style(name: str, source: str, out, settings: dict) -> dict:
    """Write style ``name`` as an RGB PNG at ``out`` (+ ``<out stem>.json`` metadata)."""
    max_size = int(settings.get("max_size", DEFAULT_MAX_SIZE))
    seed = int(settings.get("seed", 0))
    if source == "demo":
        from stylizednerf.demo.styles import demo_style

        size = int(settings.get("style_size", DEFAULT_STYLE_SIZE))
        try:
            array = demo_style(name, size, seed)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
        if max(array.shape[:2]) > max_size:
            from PIL import Image

            array = np.asarray(downscale(Image.fromarray(array), max_size))
    else:
        array = load_style_image(source, max_size, check_size=True)
    out = Path(out)
    info = {"name": name, "source": source, "width": int(array.shape[1]), "height": int(array.shape[0]),
            "mean_rgb": [round(float(x), 2) for x in array.reshape(-1, 3).mean(0)]}
    atomic_save_image(out, array)
    atomic_write_json(out.with_suffix(".json"), metadata("prepare-style", settings, seed, style=info))
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylizednerf prepare-style",
                                     description="Write a style image as an RGB PNG (demo styles are generated).")
    parser.add_argument("--name", required=True, help="style name")
    parser.add_argument("--source", required=True, help="'demo' or an image file")
    parser.add_argument("--out", required=True, help="output PNG, e.g. results/styles/NAME.png")
    parser.add_argument("--settings", default="{}",
                        help="JSON: max_size (longest side), style_size (demo styles), seed")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    args = parser.parse_args(argv)
    settings = StyleImageSettings.parse(args.settings, args.runtime).to_dict()
    print(json.dumps(prepare_style(args.name, args.source, args.out, settings)))
    return 0
