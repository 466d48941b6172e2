"""Configuration checking: JSON schema first, then what a schema can't say (files, folders).

Every problem is reported as one line, ``config error: <key>: <what is wrong>``, before any
job runs. The Snakefile calls :func:`check_config` and exits with that line.
"""

import copy
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from stylizednerf.paths import DATA_ENV, IMAGE_SUFFIXES, data_dir, frame_image, list_images

DEMO_STYLES = ("strokes", "mosaic", "palette")

# Names that would put a scene's or style's outputs on top of another output folder: results/
# holds the scenes beside these (results/{scene}/), and each scene's folder holds its styles beside
# these (results/{scene}/{style}/). tests/test_bad_input_config.py checks them against the rules.
RESERVED_SCENE_NAMES = frozenset({"inputs", "logs", "benchmarks", "report", "settings", "styles", "stylization2d",
                                  "stylization2d_ckpt"})
RESERVED_STYLE_NAMES = frozenset({"images", "joint", "nerf", "nerf_ckpt", "path", "poses", "views"})


class ConfigError(ValueError):
    """A bad configuration; ``str(error)`` is one line naming the key."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config error: {key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class SceneSource:
    """Where a scene's photos (and any poses it ships) are."""

    kind: str  # demo | llff | transforms | colmap | photos
    root: Path | None  # folder of the scene (None for the demo)
    images: Path | None  # folder holding the images to use (None for the demo)
    poses_file: Path | None  # poses_bounds.npy, transforms.json or a COLMAP model folder, when the scene ships poses


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


def check_unique_keys(path) -> None:
    """ConfigError naming the key when a mapping of the YAML/JSON file ``path`` gives a key twice
    (two scenes or two styles of one name): YAML loaders, Snakemake's too, keep the last silently."""
    try:
        with open(path, encoding="utf-8") as f:
            root = yaml.compose(f, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # not ours to report: Snakemake's own loader says what is wrong with the file
    pending = [((), root)]
    while pending:
        prefix, node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(_key(prefix + (key,)), f"given twice in {path} (lines {seen[key]} and {line})")
                seen[key] = line
                pending.append((prefix + (key,), value_node))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((prefix + (str(i),), item) for i, item in enumerate(node.value))


def check_names(config: dict) -> None:
    """ConfigError naming a scene or style whose name collides with an output folder."""
    for name in config.get("scenes", {}):
        if name in RESERVED_SCENE_NAMES:
            raise ConfigError(f"scenes.{name}", f"'{name}' is reserved (results/{name} holds other outputs); "
                              "rename the scene")
    for name in config.get("styles", {}):
        if name in RESERVED_STYLE_NAMES:
            raise ConfigError(f"styles.{name}", f"'{name}' is reserved (results/<scene>/{name} holds other "
                              "outputs); rename the style")


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


def colmap_model_folder(scene: Path) -> Path | None:
    """A COLMAP model beside the photos: ``sparse/0`` (the mapper's) or ``sparse`` (image_undistorter's),
    binary or text."""
    for folder in (scene / "sparse" / "0", scene / "sparse"):
        if (folder / "cameras.bin").is_file() or (folder / "cameras.txt").is_file():
            return folder
    return None


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
            model = colmap_model_folder(path)
            # The photos are the same either way: 'poses: colmap' still runs SfM on all of them.
            return SceneSource("colmap" if model else "photos", path, folder, model)
    raise ConfigError(key, f"no {suffixes} images in '{path}' or '{path / 'images'}'")


def source_files(found: SceneSource) -> list[Path]:
    """Every file of a scene source that the poses stage reads: its photos (the ones it uses,
    e.g. LLFF's images_N) and the poses it ships (poses_bounds.npy, transforms.json, a COLMAP
    model's files), so that the workflow can declare them as inputs and rerun on an edit. The demo
    has none (the workflow makes it)."""
    if found.kind == "demo":
        return []
    files = []
    if found.kind == "transforms":
        import json

        try:
            frames = json.loads(found.poses_file.read_text()).get("frames", [])
        except (OSError, ValueError, AttributeError):
            frames = []  # the poses stage says what is wrong with the file, in one line
        files = [frame_image(found.poses_file.parent, f["file_path"]) for f in frames
                 if isinstance(f, dict) and isinstance(f.get("file_path"), str)]
        files = [f for f in files if f.is_file()]
    elif found.images is not None:
        files = list_images(found.images)
    if found.poses_file is not None:
        shipped = found.poses_file
        files += sorted(p for p in shipped.iterdir() if p.is_file()) if shipped.is_dir() else [shipped]
    return files


def _check_style(name: str, value: str, max_size: int) -> str:
    """The style's file, decoded in full and of a usable size; ConfigError naming the key if not."""
    from stylizednerf.images import ImageReadError, open_rgb
    from stylizednerf.style_image import style_size_problem

    key = f"styles.{name}"
    if value == "demo":
        if name not in DEMO_STYLES:
            raise ConfigError(key, f"'demo' styles are named {', '.join(DEMO_STYLES)}")
        return value
    path = Path(expand_data(value, key)).expanduser()
    if not path.is_file():
        raise ConfigError(key, f"file '{path}' not found")
    try:
        size = open_rgb(path).size  # every pixel decoded: a truncated file fails here, not in its job
    except ImageReadError as error:
        raise ConfigError(key, f"file '{path}': {error.reason}") from None
    problem = style_size_problem(*size, max_size)
    if problem:
        raise ConfigError(key, f"file '{path}': {problem}")
    return str(path)


def _check_camera_path(value: str, key: str) -> str:
    """A scene's nerfstudio camera_path.json: ``${data}`` expanded, the file read and its cameras
    checked now (one line naming the key), not when the first render job starts."""
    import json

    from stylizednerf.stylize.nerfstudio_path import parse_camera_path

    path = Path(expand_data(value, key)).expanduser()
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(key, f"cannot read '{path}' ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(key, f"'{path}' is not JSON ({error})") from None
    try:
        parse_camera_path(data, str(path))
    except ValueError as error:
        raise ConfigError(key, str(error)) from None
    return str(path)


def check_config(config: dict, schema_path) -> tuple[dict, list[str]]:
    """Validate ``config``; return a copy with ``${data}`` expanded, and the optional scenes skipped.

    Raises ConfigError (one line naming the key) on the first problem found.
    """
    config = copy.deepcopy(config)
    validate_schema(config, load_schema(schema_path))
    check_names(config)
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
                              f"'provided' needs poses_bounds.npy, transforms.json or a COLMAP model "
                              f"(sparse/0) in '{found.root}'")
        if scene.get("camera_path"):
            scene["camera_path"] = _check_camera_path(scene["camera_path"], f"scenes.{name}.camera_path")
    if not config["scenes"]:
        raise ConfigError("scenes", "every scene is optional and missing: " + "; ".join(skipped))
    from stylizednerf.settings import StyleImageSettings

    max_size = config.get("style_images", {}).get("max_size", StyleImageSettings().max_size)
    for name, value in config["styles"].items():
        config["styles"][name] = _check_style(name, value, max_size)
    return config, skipped
