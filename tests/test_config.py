"""A bad configuration fails before any job runs, with one line naming the key or path."""

import shutil

import pytest
import yaml

from conftest import run_snakemake
from stylizednerf.config import ConfigError, check_config, resolve_scene_source
from stylizednerf.paths import PROJECT_ROOT
from stylizednerf.settings import SCHEMA_PATH as SCHEMA


def base_config(tmp_path):
    style = tmp_path / "style.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 30, 30)).save(style)
    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    for i in range(3):
        Image.new("RGB", (8, 8), (i, i, i)).save(photos / f"{i}.jpg")
    return {"scenes": {"mine": {"source": str(photos)}, "demo": {"source": "demo"}},
            "styles": {"red": str(style), "strokes": "demo"}}


def problem(config):
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_config_passes_and_is_not_modified(tmp_path):
    config = base_config(tmp_path)
    checked, skipped = check_config(config, SCHEMA)
    assert checked["scenes"]["mine"]["source"] == config["scenes"]["mine"]["source"]
    assert skipped == []


def test_unknown_key_is_named(tmp_path):
    config = base_config(tmp_path)
    config["scenes"]["mine"]["downsacle"] = 2
    assert problem(config) == "config error: scenes.mine.downsacle: unknown key"
    config = base_config(tmp_path)
    config["colour"] = "blue"
    assert problem(config) == "config error: colour: unknown key"


def test_wrong_type_is_named(tmp_path):
    config = base_config(tmp_path)
    config["seed"] = "zero"
    assert problem(config).startswith("config error: seed: 'zero' is not of type 'integer'")
    config = base_config(tmp_path)
    config["scenes"]["mine"]["poses"] = "guess"
    assert problem(config).startswith("config error: scenes.mine.poses: 'guess' is not one of")


def test_missing_style_file_is_named(tmp_path):
    config = base_config(tmp_path)
    config["styles"]["red"] = str(tmp_path / "nope.jpg")
    assert problem(config) == f"config error: styles.red: file '{tmp_path / 'nope.jpg'}' not found"


def test_unreadable_style_file_is_named(tmp_path):
    config = base_config(tmp_path)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    config["styles"]["red"] = str(bad)
    assert problem(config).startswith(f"config error: styles.red: file '{bad}': cannot read image")


def test_unknown_demo_style_is_named(tmp_path):
    config = base_config(tmp_path)
    config["styles"]["sunset"] = "demo"
    assert problem(config).startswith("config error: styles.sunset: 'demo' styles are named")


def test_scene_folder_without_images_is_named(tmp_path):
    config = base_config(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here")
    config["scenes"]["mine"]["source"] = str(empty)
    message = problem(config)
    assert message.startswith("config error: scenes.mine.source: no png/jpg/jpeg images in")
    assert str(empty) in message


def test_provided_poses_need_a_pose_file(tmp_path):
    config = base_config(tmp_path)
    config["scenes"]["mine"]["poses"] = "provided"
    assert problem(config).startswith("config error: scenes.mine.poses: 'provided' needs poses_bounds.npy")


def test_optional_missing_scene_is_skipped(tmp_path):
    config = base_config(tmp_path)
    config["scenes"]["gone"] = {"source": str(tmp_path / "gone"), "optional": True}
    checked, skipped = check_config(config, SCHEMA)
    assert "gone" not in checked["scenes"] and len(skipped) == 1 and "scenes.gone.source" in skipped[0]


def test_llff_folder_uses_images_matching_downscale(tmp_path, data_root):
    fern = data_root / "scenes" / "fern"
    assert resolve_scene_source(str(fern), 8).images == fern / "images_8"
    assert resolve_scene_source(str(fern), 4).images == fern / "images_4"
    with pytest.raises(ConfigError, match="no png/jpg/jpeg images"):
        resolve_scene_source(str(fern), 2)  # no images_2 and no full-size images/ in the data


@pytest.mark.parametrize("case", ["unknown_key", "missing_style", "empty_scene", "wrong_type"])
def test_snakemake_stops_with_one_line_before_any_job(tmp_path, case):
    """The same checks, through Snakemake itself: exit 1, one line, no job scheduled."""
    config = base_config(tmp_path)
    if case == "unknown_key":
        config["nerf_typo"] = {}
        expected = "config error: nerf_typo: unknown key"
    elif case == "missing_style":
        config["styles"]["red"] = str(tmp_path / "missing.png")
        expected = f"config error: styles.red: file '{tmp_path / 'missing.png'}' not found"
    elif case == "empty_scene":
        empty = tmp_path / "empty"
        empty.mkdir()
        config["scenes"]["mine"]["source"] = str(empty)
        expected = "config error: scenes.mine.source: no png/jpg/jpeg images in"
    else:
        config["seed"] = 1.5
        expected = "config error: seed: 1.5 is not of type 'integer'"
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "1",
                            "--configfile", str(configfile)], cwd=workdir, check=False, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 1, result.stdout
    assert lines == [lines[0]] and lines[0].startswith(expected), result.stdout
    assert not (workdir / "results").exists()
