# Configuration checking and helpers shared by every stage.
import json
import os
import sys

from snakemake.utils import validate

from stylizednerf.config import ConfigError, check_config
from stylizednerf.paths import prefer_this_python

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

SCENES = list(config["scenes"])
STYLES = list(config["styles"])


def settings(section, **extra):
    """A stage's settings as one JSON argument: its config section plus the global seed/device."""
    values = {"seed": config["seed"], "device": config["device"], **config.get(section, {}), **extra}
    return json.dumps(values, sort_keys=True)


def final_outputs():
    """The target of the default run: the final outputs of every stage."""
    outputs = []
    for name, func in sorted(FINAL_OUTPUTS.items()):
        outputs.extend(func())
    return outputs


# Each stage file registers a function returning its final outputs: FINAL_OUTPUTS["<stage>"] = f
FINAL_OUTPUTS = {}
