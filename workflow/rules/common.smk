# Configuration checking and helpers shared by every stage.
import json
import os
import sys

from snakemake.utils import validate

from stylizednerf.config import ConfigError, check_config
from stylizednerf.paths import import_from_checkout, prefer_this_python

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")

# A bad config stops here with one line naming the key, before any job is scheduled.
try:
    _checked, _skipped = check_config(config, SCHEMA)
except ConfigError as error:
    sys.exit(str(error))
config.clear()
config.update(_checked)
validate(config, SCHEMA)  # fills in the schema's defaults
for _line in _skipped:
    print(f"note: optional scene skipped: {_line}", file=sys.stderr)

prefer_this_python()
shell.prefix(import_from_checkout(workflow.basedir))

SCENES = list(config["scenes"])
STYLES = list(config["styles"])


def settings(section, omit=(), **extra):
    """A stage's settings as one JSON argument: its config section (less the keys in ``omit``, which
    only the workflow reads) plus the global seed/device."""
    values = {"seed": config["seed"], "device": config["device"], **config.get(section, {}), **extra}
    for key in omit:
        values.pop(key, None)
    return json.dumps(values, sort_keys=True)


def final_outputs():
    """The target of the default run: the final outputs of every stage."""
    outputs = []
    for name, func in sorted(FINAL_OUTPUTS.items()):
        outputs.extend(func())
    return outputs


# Each stage file registers a function returning its final outputs: FINAL_OUTPUTS["<stage>"] = f
FINAL_OUTPUTS = {}


# Used by evaluate.smk (kept here: Snakemake's linter wants functions apart from rules).
def rule_defined(name):
    try:
        getattr(rules, name)
        return True
    except Exception:  # Snakemake raises WorkflowError for an unknown rule
        return False


def eval_methods():
    """Configured methods whose producing rule is part of this workflow."""
    methods = []
    for method in config["evaluate"]["methods"]:
        if rule_defined(EVAL_PRODUCERS.get(method, "")):
            methods.append(method)
        else:
            print(f"note: evaluate: no rule produces method '{method}' yet; left out", file=sys.stderr)
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


def eval_source(wildcards):
    return EVAL_SOURCES[wildcards.method].format(scene=wildcards.scene, style=wildcards.style)


def scene_source(wildcards):
    """The pose stage's --source: the demo's true-camera file, or the configured folder/file."""
    source = config["scenes"][wildcards.scene]["source"]
    return "results/inputs/demo/cameras.json" if source == "demo" else source
