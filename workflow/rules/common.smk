# Configuration checking and helpers shared by every stage.
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from stylizednerf.config import ConfigError, check_config, check_unique_keys, expand_data, resolve_scene_source, source_files
from stylizednerf.fileio import atomic_write_text
from stylizednerf.paths import PROJECT_ROOT, import_from_checkout, list_images, prefer_this_python
from stylizednerf.settings import SCHEMA_PATH, STAGES

# found from the package (not workflow.basedir), so a `module` deployment finds it too
SCHEMA = str(SCHEMA_PATH)

# A bad config stops here with one line naming the key, before any job is scheduled.
try:
    for _configfile in workflow.configfiles:  # a key given twice: YAML keeps the last silently
        check_unique_keys(_configfile)
    _checked, _skipped = check_config(config, SCHEMA)
except ConfigError as error:
    sys.exit(str(error))
config.clear()
config.update(_checked)
validate(config, SCHEMA)  # fills in the schema's defaults
for _line in _skipped:
    print(f"note: optional scene skipped: {_line}", file=sys.stderr)

prefer_this_python()
# Jobs import the package this file imported, from its checkout (PROJECT_ROOT): not from
# workflow.basedir, which is the deployment's folder when the workflow is used as a `module`.
shell.prefix(import_from_checkout(PROJECT_ROOT))

# CPU threads of each training / rendering job (capped at --cores): the schema says why the CPU
# demo uses 1
JOB_THREADS = config["job_threads"]
SCENES = list(config["scenes"])
STYLES = list(config["styles"])


SETTINGS_DIR = "results/settings"


def settings(stage, **extra):
    """A stage's *result* settings as ``@FILE`` for its ``--settings`` option and the rule's params:
    only the config keys the stage's typed settings read (stylizednerf.settings), less its runtime
    fields, plus ``extra`` overrides. The file (results/settings/<stage>-<hash>.json) is named by a
    hash of its content, so Snakemake still reruns a job when they change, while the command line
    that it prints stays short."""
    values = STAGES[stage].from_config(config, **extra).result()
    path = content_named_file(stage, "json", f"{json.dumps(values, sort_keys=True, indent=1)}\n")
    return f"@{path}"


# Every job's log and benchmark file: results/logs/<rule>/<wildcards>.log and
# results/benchmarks/<rule>/<wildcards>.tsv (<rule>.log / <rule>.tsv without wildcards). One
# definition for the rules and for benchmark_table, which lists them without asking the rules
# (under a storage plugin, `rules.<rule>.benchmark` is already its local copy).
def job_log(rule_name, *wildcards):
    return f"results/logs/{'/'.join([rule_name, *wildcards])}.log"


def job_benchmark(rule_name, *wildcards):
    return f"results/benchmarks/{'/'.join([rule_name, *wildcards])}.tsv"


def folder_of(key, kind="output", levels=1, suffix=""):
    """A params function: the folder of the job's output (or input) ``key``, ``levels`` up, plus
    ``suffix``. Commands take their folders from here, never as a literal results/... path: under a
    storage plugin a job's files are local copies elsewhere."""
    def folder(wildcards, input, output):
        path = str(getattr(output if kind == "output" else input, key))
        for _ in range(levels):
            path = os.path.dirname(path)
        return f"{path}{suffix}"
    return folder


def local_root(local_path, path):
    """Where this run keeps its copy of the workflow path ``path``, less ``path`` itself: '' on a
    shared file system, the storage plugin's local folder (e.g. .snakemake/storage/fs/<prefix>/)
    under one. ``local_path`` is the job's name for ``path`` (an input or output of the job)."""
    local_path = str(local_path)
    if not local_path.endswith(path):
        raise WorkflowError(f"{local_path} is not a local copy of {path}")
    return local_path[: len(local_path) - len(path)]


def content_named_file(prefix, suffix, text):
    """``text`` in SETTINGS_DIR/<prefix>-<hash of text>.<suffix> (written when absent or different); its path."""
    path = f"{SETTINGS_DIR}/{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.{suffix}"
    if not os.path.isfile(path) or Path(path).read_text() != text:
        atomic_write_text(path, text)
    return path


# Each stage's *runtime* settings (device, chunk sizes, compile, CUDA graphs, logging, previews)
# reach its job as `--runtime "$STYLIZEDNERF_RUNTIME_<STAGE>"`, an environment variable set here
# (wherever Snakemake evaluates this file: locally, and in each cluster job), not as params, so
# changing one reruns nothing (Snakemake's code trigger compares the unformatted command).
for _stage, _settings_class in STAGES.items():
    os.environ[f"STYLIZEDNERF_RUNTIME_{_stage.upper().replace('-', '_')}"] = json.dumps(
        _settings_class.from_config(config).runtime(), sort_keys=True)


# Jobs on several GPUs claim one each (stylizednerf/gpu_assign.py) in this folder, by the memory
# each GPU job declares (resources: gpu_mem_mb, passed to the job as STYLIZEDNERF_GPU_MEM_MB).
os.environ.update(STYLIZEDNERF_GPU_SLOTS=os.path.abspath("results/.gpu_slots"))


def final_outputs():
    """The target of the default run: the final outputs of every stage."""
    outputs = []
    for name, func in sorted(FINAL_OUTPUTS.items()):
        outputs.extend(func())
    return outputs


# Each stage file registers a function returning its final outputs: FINAL_OUTPUTS["<stage>"] = f
FINAL_OUTPUTS = {}


# The render rules' optional nerfstudio camera path (a scene's `camera_path`): declared as an
# input, so editing the file reruns the renders, and passed on as an option only when set.
def camera_path_input(wildcards):
    path = config["scenes"][wildcards.scene].get("camera_path")
    return [local(path)] if path else []


def camera_path_option(wildcards, input):
    return f"--camera-path {shlex.quote(str(input.camera_path))}" if input.camera_path else ""


# Methods that run only when listed in config["baselines"] (their rules: arf.smk).
BASELINES = ("arf",)


# Each stage file registers the jobs of the default run (wildcard dicts) whose benchmark files
# benchmark_table collects: BENCHMARK_JOBS["<name>"] = f
BENCHMARK_JOBS = {}


def benchmark_jobs():
    """(rule, job, benchmark file, log) of every registered job of a defined rule (report.smk)."""
    jobs = []
    for name, func in sorted(BENCHMARK_JOBS.items()):
        if not rule_defined(name):
            continue
        for wildcards in func():
            values = [str(v) for v in wildcards.values()]
            jobs.append((name, ",".join(values) or "-", job_benchmark(name, *values), job_log(name, *values)))
    return jobs


def benchmark_jobs_file():
    """benchmark_jobs() as a tab-separated file in SETTINGS_DIR, named by a hash of its content."""
    return content_named_file("benchmark-jobs", "tsv", "".join("\t".join(job) + "\n" for job in benchmark_jobs()))


def scene_style_jobs(method=None):
    """Every scene x style (when ``method`` is given: only if it is evaluated, else no job runs)."""
    if method is not None and method not in eval_methods():
        return []
    return [dict(scene=scene, style=style) for scene in SCENES for style in STYLES]


# Used by evaluate.smk (kept here: Snakemake's linter wants functions apart from rules).
def rule_defined(name):
    try:
        getattr(rules, name)
        return True
    except Exception:  # Snakemake raises WorkflowError for an unknown rule
        return False


_NOTED_METHODS = set()  # methods whose 'left out' note was printed in this run


def eval_methods():
    """Configured methods whose producing rule is part of this workflow."""
    methods = []
    for method in config["evaluate"]["methods"]:
        if method in BASELINES and method not in config["baselines"]:
            continue  # a baseline that is off: no note, the config says so
        if rule_defined(EVAL_PRODUCERS.get(method, "")):
            methods.append(method)
        elif method not in _NOTED_METHODS:  # once per run, not at every call of the input functions
            _NOTED_METHODS.add(method)
            print(f"note: evaluate: no rule produces method '{method}' in this configuration; left out", file=sys.stderr)
    return methods


def fit_entries():
    """(method, scene, style, metadata.json) of each evaluated row that has a stylize job (report.smk)."""
    entries = []
    for method in eval_methods():
        rule_name, path = FIT_SOURCES.get(method, ("", ""))
        if rule_defined(rule_name):
            entries += [(method, scene, style, path.format(scene=scene, style=style))
                        for scene in SCENES for style in STYLES]
    return entries


def timing_entries():
    """(method, scene, style, train metadata.json, render metadata.json) of each evaluated 3D row (report.smk)."""
    entries = []
    for method in eval_methods():
        rule_name, train, render = TIMING_SOURCES.get(method, ("", "", ""))
        if rule_defined(rule_name):
            entries += [(method, scene, style, train.format(scene=scene, style=style),
                         render.format(scene=scene, style=style)) for scene in SCENES for style in STYLES]
    return entries


def report_options(input):
    """Rule report's --fit and --timing options, each entry's metadata files as the job names them
    (its inputs fits and timings, in the order of fit_entries() and timing_entries(): under a
    storage plugin, local copies)."""
    fits = [f"--fit {method} {scene} {style} {shlex.quote(str(path))}"
            for (method, scene, style, _), path in zip(fit_entries(), input.fits, strict=True)]
    pairs = zip(input.timings[::2], input.timings[1::2])
    timings = [f"--timing {method} {scene} {style} {shlex.quote(str(train))} {shlex.quote(str(render))}"
               for (method, scene, style, _, _), (train, render) in zip(timing_entries(), pairs, strict=True)]
    return " ".join(fits + timings)


def benchmark_table_root(input):
    """benchmark_table's --root: where the job sees its job list's paths (local_root), none on a shared file system."""
    jobs = benchmark_jobs()
    root = local_root(input.benchmarks[0], jobs[0][2]) if jobs else ""
    return f"--root {shlex.quote(root)}" if root else ""


def eval_source(wildcards):
    return EVAL_SOURCES[wildcards.method].format(scene=wildcards.scene, style=wildcards.style)


def scene_inputs(wildcards):
    """The pose stage's inputs: the demo's true-camera file (made by the workflow), or every file of a
    real scene that it reads (photos, shipped poses), so that editing a photo reruns the scene."""
    scene = config["scenes"][wildcards.scene]
    if scene["source"] == "demo":
        return ["results/inputs/demo/cameras.json", "results/inputs/demo/images"]
    found = resolve_scene_source(scene["source"], scene.get("downscale", 1), f"scenes.{wildcards.scene}.source")
    # read where they are, also under a storage plugin (which would look for them in its storage)
    return [local(str(path)) for path in source_files(found)]


def extra_content_inputs(wildcards):
    """The images of decoder.extra_content, an input of pretrain_decoder (read where they are)."""
    folder = config["decoder"]["extra_content"]
    if not folder:
        return []
    try:
        folder = expand_data(folder, "decoder.extra_content")
    except ConfigError as error:
        sys.exit(str(error))
    return [local(str(path)) for path in list_images(Path(folder))]


def style_inputs(wildcards):
    """prepare_style's input: the style's image file (read where it is), none for a generated one."""
    source = config["styles"][wildcards.style]
    return [] if source == "demo" else [local(source)]


def scene_source(wildcards, input):
    """The pose stage's --source: the demo's true-camera file (its first input), or the configured folder/file."""
    source = config["scenes"][wildcards.scene]["source"]
    return str(input[0]) if source == "demo" else source
