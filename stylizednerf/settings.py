"""One typed settings object per stage; defaults from the config schema; result vs runtime fields.

Each stage (``python -m stylizednerf <stage>``) reads one frozen dataclass below. Its fields are
typed and documented here; their **defaults are read from the config schema**
(``stylizednerf/config.schema.yaml``, :data:`SCHEMA_PATH`), so the workflow and a stage run
by hand agree: there is no second defaults table. A field takes its default from
``<section>.<name>`` of the schema unless its metadata names another key (``source``).

Every field is marked as a **result** setting (it changes what the stage writes) or a
**runtime** setting (device, logging, previews, checkpoint and progress frequencies, chunk and
cache sizes, compilation, CUDA graphs, thread counts: how fast or how visibly the stage runs,
not what it computes). The workflow puts only result settings in a rule's ``params`` (which
Snakemake tracks), and passes runtime ones as ``--runtime JSON`` outside ``params``, so changing
a runtime setting reruns nothing. Decisions worth knowing:

* ``render.fps`` is a *result* of the render stages: the MP4 is a declared output, and a video
  whose frame rate differs from the config would be stale. It is not a setting of
  ``render-views`` (which renders the training views and has no video), so changing it reruns
  no training job.
* The decoder's ``sample_*`` and the VAE's ``plot_samples`` only change the preview figures
  (samples.png, latents.png), and ``stylize.previews`` only views.png: runtime.
* ``decoder.max_seconds`` is a result setting (a time budget stops training early); the
  checkpoint fingerprint leaves it out (a checkpoint from another budget is the same state).
* ``evaluate.batch_size`` (LPIPS batch) is kept as a result setting: batched convolutions may
  round differently.

Keys only the workflow reads (which jobs exist, not how one runs) belong to no stage:
:data:`WORKFLOW_KEYS`.

An unknown key is rejected the same way everywhere: :class:`SettingsError`, one line
``error: <stage>: unknown setting '<key>'``.
"""

import copy
import dataclasses
import functools
import json
from dataclasses import MISSING, field
from pathlib import Path

import yaml

# The schema ships inside the package (package data), so a stage run from an installed wheel
# gets the workflow's defaults; the workflow validates its config against this same file.
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"

# config keys that only the workflow reads (which jobs exist; job_threads: their threads); no stage reads them
WORKFLOW_KEYS = frozenset({"evaluate.methods", "stylize.sequential_baseline", "joint.enabled", "baselines",
                           "job_threads"})
# the GPU memory each GPU rule declares (resources: gpu_mem_mb): read by the workflow's scheduling only
WORKFLOW_SECTIONS = ("gpu_mem_mb",)


class SettingsError(ValueError):
    """A bad stage setting; ``str(error)`` is one line naming the stage and the key."""


@functools.cache
def schema() -> dict:
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def schema_property(key: str) -> dict:
    """The schema of config key ``key`` ("nerf.fast.lr")."""
    node = schema()
    for part in key.split("."):
        node = node["properties"][part]
    return node


def schema_default(key: str):
    node = schema_property(key)
    if "default" not in node:
        raise KeyError(f"config schema: {key} has no default")
    return copy.deepcopy(node["default"])


def settings_argument(option: str, text: str | None) -> dict:
    """The value of a stage's ``--settings`` or ``--runtime`` option: a JSON object, or ``@FILE``
    naming a file that holds one (the workflow passes files, so that job commands stay short).
    Bad JSON or an unreadable file exits with one line."""
    text = text or "{}"
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as error:
            raise SystemExit(f"error: {option}: cannot read '{text[1:]}' ({error.strerror or error})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"error: {option} is not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise SystemExit(f"error: {option} must be a JSON object")
    return values


def runtime(source: str | None = None):
    """A field that does not change the stage's result (see the module docstring)."""
    return field(metadata={"runtime": True, "source": source})


def result(source: str | None = None):
    """A result field whose default is another config key's (``source``)."""
    return field(metadata={"runtime": False, "source": source})


def is_runtime(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("runtime", False))


class Settings:
    """Base of the stage settings; subclasses are made with :func:`stage`."""

    STAGE = ""  # python -m stylizednerf <STAGE>
    SECTION = ""  # its config section

    @classmethod
    def from_dict(cls, values: dict | None, _prefix: str = "", _stage: str = ""):
        """Settings from a (partial) dict; missing keys take the schema's defaults; an unknown key
        raises :class:`SettingsError`."""
        values = dict(values or {})
        stage_name = _stage or cls.STAGE
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise SettingsError(f"error: {stage_name}: unknown setting '{_prefix}{key}'")
        kwargs = {}
        for name, value in values.items():
            sub = _nested_type(known[name])
            if sub is not None:
                if not isinstance(value, dict):
                    raise SettingsError(f"error: {stage_name}: setting '{_prefix}{name}' must be an object")
                value = sub.from_dict(value, f"{_prefix}{name}.", stage_name)
            elif not is_runtime(known[name]):  # the schema's choices: a stage run by hand gets no config check
                allowed = schema_property(known[name].metadata["source"]).get("enum")
                if allowed is not None and value not in allowed:
                    raise SettingsError(f"error: {stage_name}: setting '{_prefix}{name}' must be one of "
                                        f"{', '.join(map(str, allowed))}, not {value!r}")
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def parse(cls, settings_json: str = "{}", runtime_json: str = "{}"):
        """A stage's ``--settings`` and ``--runtime`` JSON as settings; bad JSON or an unknown key
        exits with one line."""
        merged = {}
        for option, text in (("--settings", settings_json), ("--runtime", runtime_json)):
            _merge(merged, settings_argument(option, text))
        try:
            return cls.from_dict(merged)
        except SettingsError as error:
            raise SystemExit(str(error)) from None

    @classmethod
    def from_config(cls, config: dict, **extra):
        """This stage's settings from a validated workflow config (plus ``extra`` overrides)."""
        values = {}
        for f in dataclasses.fields(cls):
            node = config
            for part in f.metadata["source"].split("."):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            if not (isinstance(node, dict) and node == {} and _nested_type(f) is None):
                values[f.name] = copy.deepcopy(node)
        _merge(values, extra)
        return cls.from_dict(values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def result(self) -> dict:
        """The fields that change the stage's result (nested settings: their result fields)."""
        return self._select(False)

    def runtime(self) -> dict:
        """The fields that do not (nested settings: their runtime fields, when any)."""
        return self._select(True)

    def _select(self, runtime_fields: bool) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                part = value._select(runtime_fields)
                if part or not runtime_fields:
                    out[f.name] = part
            elif is_runtime(f) == runtime_fields:
                out[f.name] = copy.deepcopy(value)
        return out

    @classmethod
    def runtime_names(cls) -> set[str]:
        names = set()
        for f in dataclasses.fields(cls):
            sub = _nested_type(f)
            names |= sub.runtime_names() if sub is not None else ({f.name} if is_runtime(f) else set())
        return names


def _nested_type(f: dataclasses.Field):
    return f.type if isinstance(f.type, type) and issubclass(f.type, Settings) else None


def _merge(into: dict, values: dict) -> dict:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


STAGES: dict[str, type] = {}


def stage(name: str, section: str, common: bool = True):
    """Make ``cls`` a frozen settings dataclass of stage ``name`` reading config ``section``.

    Every annotated field gets its default from the schema (``<section>.<field>`` or the field's
    ``source``); ``common`` adds the global ``seed`` (result) and ``device`` (runtime).
    """
    def wrap(cls):
        annotations = dict(cls.__dict__.get("__annotations__", {}))
        if common:
            annotations.setdefault("seed", int)
            annotations.setdefault("device", str)
            if "seed" not in cls.__dict__:
                cls.seed = result("seed")
            if "device" not in cls.__dict__:
                cls.device = runtime("device")
        for fname, ftype in annotations.items():
            declared = cls.__dict__.get(fname, MISSING)
            metadata = dict(declared.metadata) if isinstance(declared, dataclasses.Field) else {"runtime": False}
            metadata["source"] = metadata.get("source") or f"{section}.{fname}"
            if isinstance(ftype, type) and issubclass(ftype, Settings):
                made = field(default_factory=ftype, metadata=metadata)
            else:
                default = schema_default(metadata["source"])
                if isinstance(default, (list, dict)):
                    made = field(default_factory=functools.partial(copy.deepcopy, default), metadata=metadata)
                else:
                    made = field(default=default, metadata=metadata)
            setattr(cls, fname, made)
        cls.__annotations__ = annotations
        cls.STAGE, cls.SECTION = name, section
        made_cls = dataclasses.dataclass(frozen=True)(cls)
        if name:
            STAGES[name] = made_cls
        return made_cls

    return wrap


# ---- the stages ------------------------------------------------------------------------------

@stage("demo-scene", "demo")
class DemoSettings(Settings):
    """The generated demo scene (CPU; ``device`` is ignored)."""

    width: int
    height: int
    views: int
    baseline: float  # scales the camera grid's spread
    supersample: int  # rays per pixel side for anti-aliased colours


@stage("prepare-style", "style_images")
class StyleImageSettings(Settings):
    max_size: int  # longest side of a prepared style image
    style_size: int = result("demo.style_size")  # side of a generated demo style


@stage("poses", "colmap")
class ColmapSettings(Settings):
    """SfM with pycolmap (stylizednerf.poses.sfm.SfmOptions takes these)."""

    max_image_size: int
    max_num_features: int
    matcher: str
    sequential_overlap: int
    camera_model: str
    single_camera: bool
    init_min_tri_angle: float
    relaxed_init_min_tri_angles: list
    min_registered_fraction: float
    undistort_min_shift_px: float
    reproducible: bool
    num_threads: int = runtime()  # -1 = the job's threads


@stage("", "nerf.fast", common=False)
class FastFieldSettings(Settings):
    """nerf.fast: hash grid + tiny MLP with occupancy-guided sampling."""

    iterations: int
    batch_rays: int
    lr: float
    lr_decay_steps: int | None
    levels: int
    features_per_level: int
    log2_table: int
    base_resolution: int
    max_resolution: int
    hidden: int
    grid_resolution: int
    grid_decay: float
    grid_update_every: int
    coarse_samples: int
    samples: int
    uniform_fraction: float
    grid_sampling: str
    distortion_weight: float
    weight_decay: float
    random_background: bool


@stage("", "nerf.mlp", common=False)
class MlpFieldSettings(Settings):
    """nerf.mlp: the paper's 8x256 NeRF."""

    iterations: int
    batch_rays: int
    lr: float
    lr_decay_steps: int | None
    depth: int
    width: int
    pos_frequencies: int
    dir_frequencies: int
    coarse_samples: int
    samples: int


@stage("pretrain-nerf", "nerf")
class NerfSettings(Settings):
    field: str  # fast | mlp
    holdout_every: int
    val_every: int  # validations pick the best checkpoint: a result
    val_rays: int
    background: float
    fast: FastFieldSettings
    mlp: MlpFieldSettings
    checkpoint_every: int = runtime()
    log_every: int = runtime()
    render_chunk: int = runtime()
    compile: bool = runtime()
    cuda_graph: bool = runtime()


@stage("pretrain-decoder", "decoder")
class DecoderSettings(Settings):
    iterations: int  # with stop: plateau, the upper bound
    stop: str  # plateau | iterations (stylizednerf.stylization2d.plateau)
    plateau_window: int
    plateau_tolerance: float
    batch_size: int
    crop_size: int
    load_size: int
    min_scale: float
    lr: float
    lr_decay: float
    style_weight: float
    content_weight: float
    extra_content: str  # more content photos: a result (the job's declared inputs do not cover it)
    max_seconds: float  # a time budget stops training early
    log_every: int = runtime()
    sample_every: int = runtime()
    checkpoint_every: int = runtime()
    sample_contents: int = runtime()
    sample_styles: int = runtime()
    sample_size: int = runtime()
    compile: bool = runtime()


@stage("train-vae", "vae")
class VaeSettings(Settings):
    iterations: int
    batch_size: int
    crops_per_style: int
    crop_size: int
    load_size: int
    min_scale: float
    lr: float
    kl_weight: float
    latent_dim: int
    hidden: int
    log_every: int = runtime()
    checkpoint_every: int = runtime()
    plot_samples: int = runtime()


@stage("stylize-2d", "adain")
class AdainSettings(Settings):
    alpha: float  # stylization strength
    style_size: int  # shorter side of the style image


@stage("", "stylize")
class StyleTrainerSettings(Settings):
    """The stylized NeRF trainer (stylizednerf.stylize.train.Stylizer), shared by stylize and stylize-joint."""

    mutual: bool
    rounds: int
    decoder_steps: int
    nerf_steps: int
    batch_views: int
    rays: int
    decoder_lr: float
    decoder_lr_decay: float
    nerf_lr: float
    latent_lr: float
    co_weight: float
    content_weight: float
    style_weight: float
    mimic_weight: float
    mimic_2d_weight: float
    mimic_2d_pixels: int
    style_3d_weight: float
    style_3d_patch: int
    style_3d_patches: int
    style_3d_every: int
    co_3d_weight: float
    co_3d_rays: int
    prior_weight: float
    point_tolerance: float
    neighbours: int
    hidden: int
    layers: int
    encoding: str
    encoding_levels: int
    encoding_log2_table: int
    encoding_base_resolution: int
    encoding_max_resolution: int
    encoding_lr: float
    geometry_features: bool
    shading: str
    sample_threshold: float
    background: float | None
    chunk: int = runtime()
    checkpoint_every: int = runtime()
    ray_cache_bytes: int = runtime()
    ray_cache_reserve_mb: int = runtime()
    cuda_graph: bool = runtime()


# the trainer's own keys (Stylizer's settings), without the stage's seed/device
TRAINER_KEYS = tuple(f.name for f in dataclasses.fields(StyleTrainerSettings) if f.name not in ("seed", "device"))


@stage("stylize", "stylize")
class StylizeSettings(StyleTrainerSettings):
    previews: int = runtime()  # training views in views.png


@stage("stylize-joint", "stylize")
class JointSettings(StyleTrainerSettings):
    joint_steps: int = result("joint.steps")


@stage("arf", "arf")
class ArfSettings(Settings):
    """The ARF baseline (stylizednerf.arf): its own schedule and losses; the appearance module's
    shape and shading and the frozen geometry's sampling are the stylized NeRF's (stylize
    section), so both methods stylize the same NeRF through the same kind of colour branch."""

    mse_epochs: int | None
    nnfm_epochs: int
    mse_rays: int
    lr: float
    encoding_lr: float
    content_weight: float | None
    tv_weight: float
    color_weight: float
    loss_downscale: int
    pre_color_transfer: bool
    post_color_transfer: bool
    hidden: int = result("stylize.hidden")
    layers: int = result("stylize.layers")
    encoding: str = result("stylize.encoding")
    encoding_levels: int = result("stylize.encoding_levels")
    encoding_log2_table: int = result("stylize.encoding_log2_table")
    encoding_base_resolution: int = result("stylize.encoding_base_resolution")
    encoding_max_resolution: int = result("stylize.encoding_max_resolution")
    geometry_features: bool = result("stylize.geometry_features")
    shading: str = result("stylize.shading")
    sample_threshold: float = result("stylize.sample_threshold")
    background: float | None = result("stylize.background")
    patch_rays: int = runtime()  # deferred back-propagation's re-rendered chunk: memory, not the result
    previews: int = runtime()
    chunk: int = runtime("stylize.chunk")
    ray_cache_bytes: int = runtime("stylize.ray_cache_bytes")
    ray_cache_reserve_mb: int = runtime()  # ARF's own: its job's other memory differs from stylize's


@stage("render", "render")
class RenderSettings(Settings):
    """Rendering the camera path (render, render-path, render-interpolation)."""

    frames: int
    fps: int  # the MP4's frame rate: a result (the video is an output)
    width: int | None
    chunk: int = runtime()


@stage("render-path", "render")
class RenderPathSettings(RenderSettings):
    """The unstylized NeRF along the camera path (the evaluation's geometry)."""


@stage("render-interpolation", "render")
class RenderInterpolationSettings(RenderSettings):
    """The joint module along the camera path, moving through the styles."""


@stage("render-views", "render")
class RenderViewsSettings(Settings):
    """The NeRF's renderings of the training views: only seed and device."""


@stage("evaluate", "evaluate")
class EvaluateSettings(Settings):
    gaps: list
    depth_tolerance: float
    lpips_checkpoint: str | None
    batch_size: int
    max_pairs: int | None
    style_size: int | None


@stage("report", "report")
class ReportSettings(Settings):
    grid_frames: int


# Trainers whose checkpoints carry a fingerprint of their result settings (stylizednerf.checkpoint)
TRAINERS = (NerfSettings, DecoderSettings, VaeSettings, StylizeSettings, JointSettings)
