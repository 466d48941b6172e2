"""The one image reader (stylizednerf/images.py) and the one to_uint8, on CPU.

Every reader of the project (NeRF photos, stylize views and styles, evaluation frames and
styles, the 2D side's images, prepare-style, the report's thumbnails) must give the same pixels
for the same file, whatever its mode.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from stylizednerf.images import BACKGROUND, ImageReadError, read_rgb, read_rgb_float, to_rgb, to_uint8


def _readers():
    """Every reader in the project, as path -> (H, W, 3) uint8."""
    from stylizednerf.metrics.evaluate import load_style, read_rgb as evaluate_read_rgb
    from stylizednerf.metrics.report import _read_image
    from stylizednerf.nerf.train import load_image
    from stylizednerf.style_image import load_style_image
    from stylizednerf.stylization2d.data import load_rgb as data_load_rgb
    from stylizednerf.stylize.inputs import load_rgb as stylize_load_rgb

    def as_uint8(floats):
        return np.asarray(to_uint8(floats))

    def nerf(path):
        with Image.open(path) as image:
            width, height = image.size
        return as_uint8(load_image(path, width, height))

    def evaluation_style(path):  # resized to the frames' short side: keep the size
        with Image.open(path) as image:
            width, height = image.size
        return as_uint8(load_style(path, (height, width)))

    return {"shared": read_rgb, "nerf": nerf, "stylize": lambda p: as_uint8(stylize_load_rgb(p)),
            "evaluate": lambda p: as_uint8(evaluate_read_rgb(p)), "evaluate style": evaluation_style,
            "2d": data_load_rgb, "style image": load_style_image, "report": _read_image}


@pytest.fixture(params=["shared", "nerf", "stylize", "evaluate", "evaluate style", "2d", "style image", "report"])
def reader(request):
    return _readers()[request.param]


def test_16_bit_grey_is_scaled_not_saturated(tmp_path, reader):
    levels = np.array([[0, 257 * 10, 32768, 65535], [257 * 200, 1000, 65000, 128]], dtype=np.uint16)
    Image.fromarray(levels).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I")  # I;16 or I, depending on Pillow
    out = reader(tmp_path / "deep.png")
    expected = np.floor(levels.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    assert out.shape == (2, 4, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.repeat(expected[..., None], 3, axis=-1))


def test_dark_16_bit_image_is_not_read_as_8_bit(tmp_path):
    # every level <= 255: still 16-bit data, i.e. nearly black (prepare-style used to keep them)
    Image.fromarray(np.full((3, 3), 200, dtype=np.uint16)).save(tmp_path / "dark.png")
    assert (read_rgb(tmp_path / "dark.png") == 1).all()


def test_grey_is_expanded_to_rgb(tmp_path, reader):
    grey = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    assert np.array_equal(reader(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=-1))


def test_rgba_is_composited_on_white(tmp_path, reader):
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 10, 40)
    rgba[:, :2, 3] = 255  # opaque
    rgba[:, 2:4, 3] = 0  # transparent
    rgba[:, 4:, 3] = 128  # half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = reader(tmp_path / "rgba.png").astype(int)
    assert BACKGROUND == (255, 255, 255)
    assert (out[:, :2] == (200, 10, 40)).all()
    assert (out[:, 2:4] == 255).all()  # not the hidden colour (200, 10, 40): alpha is not dropped
    half = np.array([200, 10, 40]) * 128 / 255 + 255 * 127 / 255
    assert np.abs(out[:, 4:] - half).max() <= 1


def test_palette_with_and_without_transparency(tmp_path, reader):
    palette = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(4, 6) % 3, "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.save(tmp_path / "palette.png")
    out = reader(tmp_path / "palette.png")
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 1]) == (0, 255, 0) and tuple(out[0, 2]) == (0, 0, 255)
    palette.save(tmp_path / "transparent.png", transparency=1)  # green entry transparent
    out = reader(tmp_path / "transparent.png")
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 1]) == (255, 255, 255)


def test_8_bit_rgb_unchanged(tmp_path, reader):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(reader(tmp_path / "rgb.png"), rgb)


def test_float_reader_is_levels_over_255_in_float32(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    floats = read_rgb_float(tmp_path / "rgb.png")
    assert floats.dtype == np.float32
    # bit for bit what the former readers computed: np.asarray(image, float32) / 255.0
    assert np.array_equal(floats, np.asarray(Image.open(tmp_path / "rgb.png"), dtype=np.float32) / 255.0)


def test_exif_orientation_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    image = Image.new("RGB", (40, 20), (10, 120, 230))
    image.info["exif"] = exif.tobytes()
    image.getexif()[0x0112] = 6
    assert to_rgb(image).size == (20, 40)


def test_unreadable_and_missing_name_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.png: cannot read image") as raised:
        read_rgb(tmp_path / "broken.png")
    assert raised.value.path == tmp_path / "broken.png" and "\n" not in str(raised.value)
    with pytest.raises(ImageReadError, match="missing.png: image not found"):
        read_rgb(tmp_path / "missing.png")
    from stylizednerf.stylize.inputs import load_rgb

    with pytest.raises(SystemExit, match="error: .*broken.png: cannot read image"):
        load_rgb(tmp_path / "broken.png")


def test_to_uint8_rounds_half_up_and_clamps():
    values = [-0.5, 0.0, 0.5 / 255, 0.49 / 255, 1 / 255, 0.5, 1.0, 1.5]
    expected = [0, 0, 1, 0, 1, 128, 255, 255]
    assert to_uint8(torch.tensor(values)).tolist() == expected
    assert to_uint8(np.array(values, dtype=np.float32)).tolist() == expected
    assert to_uint8(np.array(values)).tolist() == expected
    assert to_uint8(torch.tensor(values, dtype=torch.bfloat16)).dtype == np.uint8


def test_to_uint8_matches_former_copies_bit_for_bit():
    rng = np.random.default_rng(2)
    floats64 = rng.random((16, 16, 3)) * 1.2 - 0.1
    floats32 = floats64.astype(np.float32)
    tensor = torch.from_numpy(floats32)
    # nerf/train.py (CPU tensor via numpy float32), stylize/cli.py (tensor), demo/styles.py (float64)
    assert np.array_equal(to_uint8(tensor), (tensor.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))
    assert np.array_equal(to_uint8(floats32), (np.clip(floats32, 0, 1) * 255.0 + 0.5).astype(np.uint8))
    assert np.array_equal(to_uint8(floats64), (np.clip(floats64, 0, 1) * 255 + 0.5).astype(np.uint8))
    from stylizednerf.stylization2d.data import to_uint8 as chw_to_uint8

    chw = tensor.permute(2, 0, 1)
    assert np.array_equal(chw_to_uint8(chw), to_uint8(tensor))
    assert np.array_equal(chw_to_uint8(chw[None])[0], to_uint8(tensor))
