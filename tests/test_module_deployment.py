"""The workflow deployed as a Snakemake module (issue 17), as the Snakemake workflow catalog's
standardized usage and snakedeploy set it up: a folder elsewhere holds `workflow/Snakefile` with a
`module` statement over this checkout (a local path where snakedeploy writes `github(...)`: the same
mechanism) and `config/config.yaml`, and Snakemake runs there.

Inside a module Snakemake resolves `conda:` files and `report` captions relative to the module's
rule files, but outputs relative to the working directory, and `workflow.basedir` is the
deployment's folder, not the checkout: so the schema comes from the package, and jobs import the
package from the checkout that the workflow imported it from (common.smk).
"""

import re
import shutil

import pytest

from conftest import run_snakemake
from stylizednerf.paths import PROJECT_ROOT

DEPLOYMENT_SNAKEFILE = """\
configfile: "config/config.yaml"


module stylizednerf:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from stylizednerf


# Not part of a deployment: where a job of the workflow finds the package. `python -S` leaves
# site-packages out, so an installed copy (an editable install of another checkout) cannot stand
# in for the checkout on the PYTHONPATH that every rule's shell sets.
rule package_origin:
    output:
        "package_origin.txt",
    shell:
        "python -S -c 'import importlib.util; print(importlib.util.find_spec(\\"stylizednerf\\").origin)' > {{output}}"
"""


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A deployment folder with the demo config; jobs see no inherited PYTHONPATH (so only the
    workflow's own shell prefix can point them at the checkout)."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(
        DEPLOYMENT_SNAKEFILE.format(snakefile=PROJECT_ROOT / "Snakefile"))
    (tmp_path / "config").mkdir()
    shutil.copy(PROJECT_ROOT / "config.yaml", tmp_path / "config" / "config.yaml")
    return tmp_path


def planned_jobs(output: str) -> dict:
    """{rule: job count} from the dry run's "Job stats" table."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_module_deployment_dry_runs_the_demo(deployment):
    output = run_snakemake(["-n", "--cores", "1"], cwd=deployment, timeout=300).stdout
    jobs = planned_jobs(output)
    styles = 2  # config.yaml's strokes and mosaic
    # the demo's whole DAG under the default target: rule all of the module
    for rule, count in [("demo_scene", 1), ("prepare_style", styles), ("colmap", 1), ("pretrain_nerf", 1),
                        ("stylize", styles), ("render", styles), ("report", 1), ("all", 1)]:
        assert jobs.get(rule) == count, f"{rule}: {jobs}\n{output[-3000:]}"
    assert "package_origin" not in jobs
    # outputs (and the stages' settings files) are relative to the working directory
    assert any((deployment / "results" / "settings").glob("*.json"))


@pytest.mark.slow
def test_module_deployment_jobs_run_the_checkouts_package(deployment):
    """A real run of one stage job (prepare_style, ~5 s) and of the package probe."""
    run_snakemake(["--cores", "1", "results/styles/strokes.png", "package_origin.txt"], cwd=deployment,
                  timeout=300)
    origin = (deployment / "package_origin.txt").read_text().strip()
    assert origin == str(PROJECT_ROOT / "stylizednerf" / "__init__.py")
    assert (deployment / "results" / "styles" / "strokes.png").is_file()
    assert "strokes" in (deployment / "results" / "logs" / "prepare_style" / "strokes.log").read_text()
