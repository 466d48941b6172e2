# Configuration checking and helpers shared by every stage.
import json
import os
import shlex
import sys

from snakemake.utils import validate

from stylizednerf.config import ConfigError, check_config

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

# Rules run `python -m stylizednerf ...`: without --use-conda, `python` must be the interpreter
# that runs Snakemake (e.g. .venv/bin/python even when the venv is not activated). With
# --use-conda the environment's own bin folder comes first in PATH and wins.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
# Jobs import stylizednerf from this checkout, the same code as the Snakefile, also inside
# --use-conda environments: Snakemake strips PYTHONPATH from their environment and envs/*.yaml
# hold only the pinned dependencies. (Braces doubled: shell.prefix is formatted like a command.)
_checkout = shlex.quote(workflow.basedir).replace("{", "{{").replace("}", "}}")
shell.prefix("set -euo pipefail; export PYTHONPATH=" + _checkout + "${{PYTHONPATH:+:$PYTHONPATH}}; ")

SCENES = list(config["scenes"])
STYLES = list(config["styles"])


wildcard_constraints:
    scene="|".join(SCENES),
    style="|".join(STYLES),


def settings(section, **extra):
    """A stage's settings as one JSON argument: its config section plus the global seed/device."""
    values = {"seed": config["seed"], "device": config["device"], **config.get(section, {}), **extra}
    return json.dumps(values, sort_keys=True)


def final_outputs():
    """What `rule all` asks for: the last output of every stage that exists."""
    outputs = []
    for name, func in sorted(FINAL_OUTPUTS.items()):
        outputs.extend(func())
    return outputs


# Each stage file registers a function returning its final outputs: FINAL_OUTPUTS["<stage>"] = f
FINAL_OUTPUTS = {}
