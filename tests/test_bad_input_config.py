"""Bad configurations (issue 16): duplicate keys, reserved names, unusable style images.

Each is refused at start-up, before any job runs, with one line naming the key and the problem
(``config error: <key>: <problem>``), and leaves no output behind. The checks run in-process
(stylizednerf.config, what the Snakefile calls); one Snakemake dry run shows the wiring.
"""

import re

import numpy as np
import pytest
from PIL import Image

from conftest import run_snakemake
from stylizednerf.config import (RESERVED_SCENE_NAMES, RESERVED_STYLE_NAMES, ConfigError, check_config,
                                 check_unique_keys)
from stylizednerf.paths import PROJECT_ROOT
from stylizednerf.style_image import MAX_ASPECT, MIN_SIDE

from stylizednerf.settings import SCHEMA_PATH as SCHEMA  # noqa: E402  (the one schema, package data)


def style_file(path, size=(32, 32)):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def config_with_style(tmp_path, style_path, **extra):
    return {"scenes": {"demo": {"source": "demo"}}, "styles": {"mine": str(style_path)}, **extra}


def refused(config) -> str:
    """The one line of the ConfigError that check_config raises."""
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    line = str(info.value)
    assert line.startswith("config error: ") and "\n" not in line
    return line


# ---- duplicate keys ----------------------------------------------------------------------

DUPLICATES = {
    "scene": ("scenes:\n  fern:\n    source: demo\n  fern:\n    source: demo\nstyles:\n  strokes: demo\n",
              "scenes.fern", "lines 2 and 4"),
    "style": ("scenes:\n  demo:\n    source: demo\nstyles:\n  strokes: demo\n  mosaic: demo\n  strokes: demo\n",
              "styles.strokes", "lines 5 and 7"),
    "setting": ("seed: 0\nscenes:\n  demo:\n    source: demo\nstyles:\n  strokes: demo\nseed: 1\n",
                "seed", "lines 1 and 7"),
    "nested setting": ("decoder:\n  iterations: 2\n  batch_size: 1\n  iterations: 3\n",
                       "decoder.iterations", "lines 2 and 4"),
}


@pytest.mark.parametrize("case", sorted(DUPLICATES))
def test_a_key_given_twice_is_named(tmp_path, case):
    text, key, lines = DUPLICATES[case]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        check_unique_keys(path)
    assert str(info.value) == f"config error: {key}: given twice in {path} ({lines})"


def test_unique_keys_pass(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text((PROJECT_ROOT / "config.yaml").read_text())
    check_unique_keys(path)  # the shipped demo config: no duplicate


def test_snakemake_refuses_a_duplicate_style_before_any_job(tmp_path):
    text = (PROJECT_ROOT / "config.yaml").read_text()
    assert "  mosaic: demo\n" in text
    (tmp_path / "dup.yaml").write_text(text.replace("  mosaic: demo\n", "  mosaic: demo\n  mosaic: demo\n"))
    result = run_snakemake(["-n", "--cores", "1", "-s", str(PROJECT_ROOT / "Snakefile"), "--configfile",
                            str(tmp_path / "dup.yaml"), "-d", str(tmp_path / "run")], cwd=tmp_path, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("config error: ")]
    assert lines and lines[0].startswith(f"config error: styles.mosaic: given twice in {tmp_path / 'dup.yaml'}")
    assert "Traceback" not in result.stdout
    assert not (tmp_path / "run" / "results").exists()


# ---- reserved names ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["images", "nerf", "views"])
def test_a_style_named_like_an_output_folder_is_refused(tmp_path, name):
    config = {"scenes": {"demo": {"source": "demo"}}, "styles": {"strokes": "demo", name: "demo"}}
    assert refused(config) == (f"config error: styles.{name}: '{name}' is reserved (results/<scene>/{name} "
                               "holds other outputs); rename the style")


@pytest.mark.parametrize("name", ["styles", "logs", "stylization2d"])
def test_a_scene_named_like_an_output_folder_is_refused(tmp_path, name):
    config = {"scenes": {name: {"source": "demo"}}, "styles": {"strokes": "demo"}}
    assert refused(config).startswith(f"config error: scenes.{name}: '{name}' is reserved (results/{name} ")


def test_reserved_names_cover_every_fixed_output_folder():
    """Every literal folder the rules write beside the scenes or the styles is reserved."""
    rules = "\n".join(p.read_text() for p in (PROJECT_ROOT / "workflow" / "rules").glob("*.smk"))
    top = set(re.findall(r"results/([A-Za-z0-9_]+)[/\"' ]", rules))
    per_scene = set(re.findall(r"results/\{(?:wildcards\.)?\{?scene\}?\}/([A-Za-z0-9_]+)[/\"' ]", rules))
    assert top and per_scene  # the patterns still match the rules
    assert top <= RESERVED_SCENE_NAMES, top - RESERVED_SCENE_NAMES
    assert per_scene <= RESERVED_STYLE_NAMES, per_scene - RESERVED_STYLE_NAMES


# ---- style images ------------------------------------------------------------------------

def test_usable_style_passes(tmp_path):
    checked, _ = check_config(config_with_style(tmp_path, style_file(tmp_path / "ok.png", (40, 30))), SCHEMA)
    assert checked["styles"]["mine"] == str(tmp_path / "ok.png")


@pytest.mark.parametrize("size, problem", [
    ((1, 1), f"1x1 px, a side below the VGG encoder's minimum of {MIN_SIDE} px"),
    ((MIN_SIDE - 1, 64), f"{MIN_SIDE - 1}x64 px, a side below the VGG encoder's minimum of {MIN_SIDE} px"),
    ((400, 3), f"400x3 px, sides further apart than {MAX_ASPECT}:1"),
    ((20, 400), f"20x400 px, sides further apart than {MAX_ASPECT}:1"),
])
def test_implausible_style_size_is_refused(tmp_path, size, problem):
    path = style_file(tmp_path / "odd.png", size)
    assert refused(config_with_style(tmp_path, path)) == f"config error: styles.mine: file '{path}': {problem}"


def test_style_too_thin_after_the_downscale_is_refused(tmp_path):
    path = style_file(tmp_path / "wide.png", (900, 100))  # 9:1, but 71x8 at max_size 64
    line = refused(config_with_style(tmp_path, path, style_images={"max_size": 64}))
    assert line.endswith(f"a side below the VGG encoder's minimum of {MIN_SIDE} px (7 px after the downscale to 64)")


def test_animated_gif_style_is_refused(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    line = refused(config_with_style(tmp_path, path))
    assert line == (f"config error: styles.mine: file '{path}': animated or multi-page image (3 frames); "
                    "give one still image")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_style_is_refused_at_config_check(tmp_path, suffix):
    """PIL's verify() passes a truncated JPEG: the check decodes every pixel."""
    path = style_file(tmp_path / f"whole{suffix}", (64, 64))
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    line = refused(config_with_style(tmp_path, cut))
    assert line.startswith(f"config error: styles.mine: file '{cut}': cannot read image (")
    assert "truncated" in line or "broken" in line.lower()


@pytest.mark.parametrize("profile", ["local", "slurm"])
def test_profiles_print_a_failed_jobs_log(profile):
    """A failed job's one line is in its log: the profiles have Snakemake print it."""
    import yaml

    settings = yaml.safe_load((PROJECT_ROOT / "profiles" / profile / "config.yaml").read_text())
    assert settings.get("show-failed-logs") is True


def test_every_rule_sends_its_errors_to_its_log():
    """show-failed-logs prints the log, so each shell command writes its stderr there."""
    text = "\n".join(p.read_text() for p in (PROJECT_ROOT / "workflow" / "rules").glob("*.smk"))
    rules = re.split(r"\n\s*rule ", text)[1:]
    assert rules
    for rule in rules:
        name = rule.split(":", 1)[0]
        if "shell:" in rule:
            assert "log:" in rule and "2>&1" in rule.replace("2> ", "2>"), name
