"""Configuration checking: JSON schema first, then what a schema can't say (files, folders).

Every problem is reported as one line, ``config error: <key>: <what is wrong>``, before any
job runs. The Snakefile calls :func:`check_config` and exits with that line.
"""

import copy
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from stylizednerf.paths import DATA_ENV, IMAGE_SUFFIXES, data_dir, list_images

DEMO_STYLES = ("strokes", "mosaic", "palette")


class ConfigError(ValueError):
    """A bad configuration; ``str(error)`` is one line naming the key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config error: {key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class SceneSource:
    """Where a scene's photos (and any poses it ships) are."""

    kind: str  # demo | llff | transforms | photos
    root: Path | None  # folder of the scene (None for the demo)
    images: Path | None  # folder holding the images to use (None for the demo)
    poses_file: Path | None  # poses_bounds.npy or transforms.json, when the scene ships poses


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _schema_error(error: jsonschema.ValidationError) -> ConfigError:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return ConfigError(_key(path + extra[:1]), "unknown key")
    if error.validator == "required":
        missing = [m for m in error.validator_value if m not in error.instance]
        return ConfigError(_key(path + missing[:1]), "missing required key")
    if error.validator == "propertyNames":
        return ConfigError(_key(path + [error.instance]), "names may use only letters, digits, '_' and '-'")
    return ConfigError(_key(path), error.message)


def load_schema(schema_path) -> dict:
    with open(schema_path) as f:
        return yaml.safe_load(f)


def validate_schema(config: dict, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise _schema_error(error)


def expand_data(value: str, key: str) -> str:
    """Replace ``${data}`` by the real-data folder ($STYLIZEDNERF_DATA or ../shared/data)."""
    if "${data}" not in value:
        return value
    folder = data_dir()
    if folder is None or not folder.is_dir():
        raise ConfigError(key, f"uses ${{data}} but no data folder was found (set {DATA_ENV})")
    return value.replace("${data}", str(folder))


def resolve_scene_source(source: str, downscale: int = 1, key: str = "scene.source") -> SceneSource:
    """Classify a scene source and find its images; raise ConfigError naming ``key`` if unusable."""
    if source == "demo":
        return SceneSource("demo", None, None, None)
    path = Path(source).expanduser()
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise ConfigError(key, f"file '{path}' not found")
        return SceneSource("transforms", path.parent, path.parent, path)
    if not path.is_dir():
        raise ConfigError(key, f"folder '{path}' not found")
    suffixes = "/".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
    if (path / "poses_bounds.npy").is_file():
        # LLFF keeps downscaled copies as images_<N>: use the one matching the downscale factor.
        candidates = ([path / f"images_{downscale}"] if downscale > 1 else []) + [path / "images"]
        for folder in candidates:
            if list_images(folder):
                return SceneSource("llff", path, folder, path / "poses_bounds.npy")
        raise ConfigError(key, f"no {suffixes} images in {' or '.join(str(c) for c in candidates)}")
    if (path / "transforms.json").is_file():
        return SceneSource("transforms", path, path, path / "transforms.json")
    for folder in (path, path / "images"):
        if list_images(folder):
            return SceneSource("photos", path, folder, None)
    raise ConfigError(key, f"no {suffixes} images in '{path}' or '{path / 'images'}'")


def _check_style(name: str, value: str) -> str:
    key = f"styles.{name}"
    if value == "demo":
        if name not in DEMO_STYLES:
            raise ConfigError(key, f"'demo' styles are named {', '.join(DEMO_STYLES)}")
        return value
    path = Path(expand_data(value, key)).expanduser()
    if not path.is_file():
        raise ConfigError(key, f"file '{path}' not found")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ConfigError(key, f"file '{path}' is not a readable image ({error.__class__.__name__})") from None
    return str(path)


def check_config(config: dict, schema_path) -> tuple[dict, list[str]]:
    """Validate ``config``; return a copy with ``${data}`` expanded, and the optional scenes skipped.

    Raises ConfigError (one line naming the key) on the first problem found.
    """
    config = copy.deepcopy(config)
    validate_schema(config, load_schema(schema_path))
    skipped = []
    for name, scene in list(config["scenes"].items()):
        key = f"scenes.{name}.source"
        try:
            scene["source"] = expand_data(scene["source"], key)
            found = resolve_scene_source(scene["source"], scene.get("downscale", 1), key)
        except ConfigError as error:
            if not scene.get("optional", False):
                raise
            skipped.append(str(error))
            del config["scenes"][name]
            continue
        if scene.get("poses") == "provided" and found.kind == "photos":
            raise ConfigError(f"scenes.{name}.poses",
                              f"'provided' needs poses_bounds.npy or transforms.json in '{found.root}'")
    if not config["scenes"]:
        raise ConfigError("scenes", "every scene is optional and missing: " + "; ".join(skipped))
    for name, value in config["styles"].items():
        config["styles"][name] = _check_style(name, value)
    return config, skipped
