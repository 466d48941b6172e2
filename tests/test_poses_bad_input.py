"""Bad input to the poses stage: one clear error naming the images, and no outputs left behind."""

import json

import numpy as np
import pytest
from PIL import Image

from stylizednerf.poses import cli


def photos(folder, count, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def run_failing(tmp_path, folder, settings=None):
    out = tmp_path / "result"
    with pytest.raises(SystemExit) as error:
        cli.main(["--scene", "bad", "--source", str(folder), "--out", str(out),
                  "--settings", json.dumps(settings or {"num_threads": 1})])
    message = str(error.value)
    assert message.startswith("error: ") and "\n" not in message
    assert not out.exists() or list(out.iterdir()) == []  # nothing half-written, no temp folder left
    return message


def test_fewer_than_three_images(tmp_path):
    message = run_failing(tmp_path, photos(tmp_path / "two", 2))
    assert "00.png" in message and "01.png" in message and "at least 3" in message


def test_truncated_image_is_named(tmp_path):
    folder = photos(tmp_path / "truncated", 4)
    data = (folder / "02.png").read_bytes()
    (folder / "02.png").write_bytes(data[: len(data) // 2])
    (folder / "03.png").write_bytes(b"not an image")
    message = run_failing(tmp_path, folder)
    assert "02.png" in message and "03.png" in message and "01.png" not in message


def test_mixed_sizes_name_the_odd_image(tmp_path):
    folder = photos(tmp_path / "mixed", 4)
    Image.new("RGB", (50, 40)).save(folder / "03.png")
    message = run_failing(tmp_path, folder)
    assert "03.png 50x40" in message and "64x48" in message


def test_too_few_registered_images_are_named(tmp_path):
    # Independent noise images share no geometry: SfM registers none of them, even after retries.
    message = run_failing(tmp_path, photos(tmp_path / "noise", 4, size=(96, 72)),
                          {"num_threads": 1, "min_registered_fraction": 0.5})
    assert "registered 0 of 4" in message and "00.png" in message and "03.png" in message


def test_failed_run_keeps_previous_outputs(tmp_path):
    out = tmp_path / "result"
    (out / "poses").mkdir(parents=True)
    (out / "poses" / "cameras.json").write_text("{}")
    with pytest.raises(SystemExit):
        cli.main(["--scene", "bad", "--source", str(photos(tmp_path / "two", 2)), "--out", str(out)])
    assert (out / "poses" / "cameras.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["poses"]
