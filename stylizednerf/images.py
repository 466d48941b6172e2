"""Reading and writing images: the one policy for photos, style images and rendered frames.

Every image the project reads (scene photos, style images, rendered frames, references) goes
through :func:`to_rgb`, whatever its PIL mode:

* EXIF orientation is applied (working copies of photos are already oriented: a no-op there);
* 8-bit RGB is kept as is; CMYK, YCbCr, LAB, ... are converted by PIL;
* greyscale is expanded to RGB (three equal channels);
* 16-bit greyscale (``I;16*``) is scaled by 255/65535, never clipped to white; 32-bit integer
  ``I`` images are scaled the same way when a pixel exceeds 255, else read as 8-bit values;
  float ``F`` images are read as [0, 1] when no pixel exceeds 1, else as [0, 255];
* transparency (RGBA, LA, PA, palette or greyscale with a transparent colour) is composited
  over an opaque **white** background (:data:`BACKGROUND`);
* files are decoded in full (a truncated file is an error, not grey rows), and an animated or
  multi-page file (GIF, APNG, TIFF) is an error, not its first frame.

Values are rounded to the nearest 8-bit level. :func:`to_uint8` is the inverse direction:
[0, 1] floats (tensor or array) to uint8, rounding half up.
"""

from pathlib import Path

import numpy as np

BACKGROUND = (255, 255, 255)  # what transparent pixels are composited on

_ALPHA_MODES = ("RGBA", "LA", "La", "PA", "RGBa")


def _levels(array: np.ndarray, top: float) -> np.ndarray:
    return np.clip(array * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)


def to_rgb(image) -> "Image.Image":
    """An RGB copy of a PIL image of any mode (the policy in the module docstring)."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode.startswith("I;16"):
        return Image.fromarray(_levels(np.asarray(image, dtype=np.float64), 65535.0), "L").convert("RGB")
    if mode == "I":
        array = np.asarray(image, dtype=np.float64)
        return Image.fromarray(_levels(array, 65535.0 if array.max() > 255 else 255.0), "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        return Image.fromarray(_levels(array, 1.0 if array.max() <= 1.0 else 255.0), "L").convert("RGB")
    if mode in ("P", "L") and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode in _ALPHA_MODES:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


class ImageReadError(ValueError):
    """An image file that does not exist or cannot be decoded; the message names the file."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def open_rgb(path) -> "Image.Image":
    """The fully decoded file at ``path`` as an RGB PIL image; :class:`ImageReadError` if unreadable."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:  # which frame would be meant? (PIL reads the first one silently)
                raise ImageReadError(path, f"animated or multi-page image ({frames} frames); give one still image")
            image.load()  # decodes fully: truncated data fails here, not later
            return to_rgb(image)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "image not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        message = " ".join(str(error).split()) or error.__class__.__name__
        raise ImageReadError(path, f"cannot read image ({message})") from None


def read_rgb(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of the image file at ``path``; :class:`ImageReadError` if unreadable."""
    return np.asarray(open_rgb(path), dtype=np.uint8).copy()


def read_rgb_float(path) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1] (8-bit levels / 255) of the image file at ``path``."""
    return read_rgb(path).astype(np.float32) / 255.0


def to_uint8(image) -> np.ndarray:
    """[0, 1] floats to uint8 (clamped, rounded half up), layout unchanged.

    A tensor is rounded where it is (a GPU frame crosses to the host as bytes) in float32; an
    array is rounded in its own float precision (float32 at least).
    """
    import torch

    if torch.is_tensor(image):
        return (image.detach().float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
    array = np.asarray(image)
    if array.dtype != np.float64:
        array = array.astype(np.float32)
    return (np.clip(array, 0, 1) * 255.0 + 0.5).astype(np.uint8)
