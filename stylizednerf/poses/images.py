"""The working images of a scene: checked, EXIF-oriented, downscaled copies (LLFF's images_N).

COLMAP reads pixels as stored and ignores EXIF orientation, so every later step (SfM included)
runs on these copies, never on the originals.
"""

import shutil
from collections import Counter
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from stylizednerf.images import ImageReadError, open_rgb

MIN_IMAGES = 3
JPEG_QUALITY = 95


def _names(paths, limit: int = 12) -> str:
    names = [Path(p).name for p in paths]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def oriented_size(path: Path) -> tuple[int, int]:
    """(width, height) after applying the EXIF orientation, read by the project's one image reader
    (decoded in full: truncated and animated files fail here, as they would in training)."""
    return open_rgb(path).size


def check_images(paths: list[Path], folder) -> tuple[int, int]:
    """The common (width, height) of ``paths``; SystemExit naming the images when unusable."""
    if len(paths) < MIN_IMAGES:
        found = f" ({_names(paths)})" if paths else ""
        raise SystemExit(f"error: {folder}: {len(paths)} image(s){found}, need at least {MIN_IMAGES}")
    sizes, unreadable = {}, {}
    for path in paths:
        try:
            sizes[path] = oriented_size(path)
        except ImageReadError as error:
            unreadable[path] = error.reason
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            unreadable[path] = f"cannot read image ({type(error).__name__})"
    if unreadable:
        first = next(iter(unreadable.values()))
        raise SystemExit(f"error: {folder}: unreadable or truncated image(s): {_names(unreadable)} ({first})")
    common, _ = Counter(sizes.values()).most_common(1)[0]
    odd = [p for p, s in sizes.items() if s != common]
    if odd:
        described = ", ".join(f"{p.name} {sizes[p][0]}x{sizes[p][1]}" for p in odd[:12])
        raise SystemExit(f"error: {folder}: images differ in size (most are {common[0]}x{common[1]}): {described}")
    return common


def scaled_size(size: tuple[int, int], downscale: int) -> tuple[int, int]:
    return max(1, round(size[0] / downscale)), max(1, round(size[1] / downscale))


def write_working_copy(source: Path, target: Path, downscale: int) -> tuple[int, int]:
    """Write ``source`` oriented and downscaled to ``target`` (same format); return its size.

    A file that needs neither is copied byte for byte (no re-encoding).
    """
    with Image.open(source) as image:
        orientation = image.getexif().get(0x0112, 1)
        if downscale == 1 and orientation == 1:
            size = image.size
            shutil.copyfile(source, target)
            return size
        image = ImageOps.exif_transpose(image)
        size = scaled_size(image.size, downscale)
        if size != image.size:
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if target.suffix.lower() in (".jpg", ".jpeg"):
            # exif_transpose already reset the orientation tag; keep the rest (focal length priors).
            image.convert("RGB").save(target, format="JPEG", quality=JPEG_QUALITY, exif=image.getexif())
        else:
            image.save(target, format="PNG")
    return size


def prepare_images(paths: list[Path], folder, target_dir: Path, downscale: int) -> tuple[int, int]:
    """Check ``paths`` and write their working copies into ``target_dir``; return the common size."""
    check_images(paths, folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    sizes = {write_working_copy(p, target_dir / p.name, downscale) for p in paths}
    if len(sizes) != 1:  # cannot happen after check_images, unless rounding differs
        raise SystemExit(f"error: {folder}: downscaled images differ in size: {sorted(sizes)}")
    return sizes.pop()
