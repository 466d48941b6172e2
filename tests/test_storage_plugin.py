"""The workflow without a shared file system: the whole tiny DAG under a Snakemake storage plugin.

With `--default-storage-provider fs --shared-fs-usage none`, every declared input and output lives
in the storage (here a folder, `snakemake-storage-plugin-fs`, from the `test` extra) and each job
sees only local copies of its own files, under another name than `results/...`: what executors
without a shared file system (Kubernetes, Google Batch) do with a storage plugin. A command that
names a folder directly instead of through its inputs and outputs, or reads an undeclared file,
fails here. The plugin copies with rsync: as root the test apt-installs it where it is missing.
"""

import csv
import json
import os
import shutil

import pytest
import yaml

from conftest import TINY_DAG_OVERRIDES, merged, run_snakemake
from system_packages import apt_install
from stylizednerf.paths import PROJECT_ROOT


@pytest.fixture(scope="module")
def rsync():
    if shutil.which("rsync") is None:
        why = apt_install("rsync")
        if shutil.which("rsync") is None:
            message = f"rsync not found and not installed ({why}): the fs storage plugin copies with it"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    pytest.importorskip("snakemake_storage_plugin_fs", reason="pip install -e '.[test]' (snakemake-storage-plugin-fs)")


def test_the_whole_tiny_dag_runs_under_a_storage_plugin(tmp_path, rsync):
    workdir, storage = tmp_path / "work", tmp_path / "storage"
    workdir.mkdir()
    config = merged(yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text()), TINY_DAG_OVERRIDES)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
            str(workdir / "config.yaml"), "--default-storage-provider", "fs", "--default-storage-prefix",
            str(storage), "--shared-fs-usage", "none", "--local-storage-prefix", str(tmp_path / "local")]
    run_snakemake([*args, "--cores", "2"], cwd=workdir, timeout=900,
                  extra_env={"STYLIZEDNERF_DATA": str(tmp_path / "no-data-folder")})

    results = storage / "results"
    # the outputs are in the storage; the working directory keeps only what the workflow writes
    # while it reads its config (the settings files), no job output
    assert sorted(p.name for p in (workdir / "results").iterdir()) == ["settings"]
    for name in ("table_mean.md", "per_style/demo_strokes.md", "grid_demo_strokes.png", "benchmarks.md"):
        assert (results / "report" / name).is_file(), name
    for method in ("gt", "adain", "stylizednerf", "sequential", "decoder_mutual", "decoder_sequential", "arf"):
        evaluation = json.loads((results / "demo" / "mosaic" / "eval" / f"{method}.json").read_text())
        assert evaluation["per_gap"]["1"]["rmse"] >= 0, method
    assert len(list((results / "demo" / "mosaic" / "render" / "frames").glob("*.png"))) == 8
    assert (results / "demo" / "joint" / "interpolation" / "video.mp4").stat().st_size > 0

    # every job of the run is in the benchmark table, its time read from the storage's copy
    with open(results / "report" / "benchmarks.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(list((results / "benchmarks").rglob("*.tsv"))) - 1  # less benchmark_table's own
    assert all(float(row["seconds"]) > 0 for row in rows)
    # the report's mimic PSNR and train s come from the stylize jobs' metadata, found through their copies
    with open(results / "report" / "table_mean.csv") as f:
        ours = next(row for row in csv.DictReader(f) if row["method"] == "stylizednerf")
    assert float(ours["mimic PSNR"]) > 0 and float(ours["train s"]) > 0

    # nothing reruns, and the report collects the results from the storage
    assert "Nothing to be done" in run_snakemake([*args, "--cores", "2", "-n"], cwd=workdir).stdout
    run_snakemake([*args, "--report", str(tmp_path / "report.zip")], cwd=workdir, timeout=300)
    assert (tmp_path / "report.zip").stat().st_size > 100_000
