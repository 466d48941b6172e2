"""The workflow on a real SLURM scheduler: a single-node cluster on localhost (slurm-wlm + munge).

The session fixture installs Debian's slurm-wlm and munge when missing (needs root and apt),
starts munged, slurmctld and slurmd from a temp folder and stops them by their PID files.
The DAG runs through `snakemake --profile <profiles/slurm adapted for this machine>` in a temp
working directory (tiny demo config): the adapted profile is the repo's profile with every GPU
request set to `gpu: 0` (the machine has no GPU), memory requests capped to the node's memory and
quick status polling; everything else (executor, squeue status command, retries, resources) is
the repo's profile as users run it.

Select with `pytest -m slurm`. Outside CI a missing root/apt skips; under CI=true it fails.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import slurm_localhost
from conftest import IN_CI

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        _unavailable("the SLURM test cluster needs root (slurmd runs jobs as their user)")
    try:
        installed = slurm_localhost.install_packages()
    except (RuntimeError, subprocess.TimeoutExpired, FileNotFoundError) as error:
        _unavailable(f"cannot install slurm-wlm/munge: {error}")
    root = tmp_path_factory.mktemp("slurm")
    env = slurm_localhost.start(root)
    print(f"SLURM test cluster in {root} ({installed})")
    try:
        yield {"root": root, "env": env}
    finally:
        slurm_localhost.stop(root)


def gpu_rules() -> set[str]:
    """Rules that declare `gpu=` in their resources (workflow/rules/*.smk)."""
    found = set()
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^rule\s+", smk.read_text(), flags=re.M)[1:]:
            name = block.split(":", 1)[0].strip()
            if re.search(r"^\s+resources:(?:\s*\n\s+\S.*)*?\bgpu\s*=", block, flags=re.M):
                found.add(name)
    return found


def cpu_profile(folder: Path) -> Path:
    """profiles/slurm adapted to this CPU-only test node; returns the profile folder."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    _, node_mb = slurm_localhost.node_resources()
    cap = max(256, node_mb // 4)
    default = profile.setdefault("default-resources", {})
    default["mem_mb"] = f"min({default['mem_mb']}, {cap})"
    per_rule = profile.setdefault("set-resources", {})
    for rule in gpu_rules() | set(per_rule):
        values = per_rule.setdefault(rule, {})
        if "mem_mb" in values:
            values["mem_mb"] = f"min({values['mem_mb']}, {cap})"
        if rule in gpu_rules():
            values["gpu"] = 0  # the one change a CPU-only cluster needs
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["slurm-keep-successful-logs"] = True
    profile["latency-wait"] = 5
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def tiny_config(workdir: Path) -> Path:
    """The demo config at tiny size, as workdir/config.yaml (the Snakefile's configfile)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["device"] = "cpu"
    config["demo"].update(width=40, height=32, views=4, style_size=64, supersample=1)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_cmd(workdir: Path, profile: Path, *targets: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--profile", str(profile), *targets]


def job_env(cluster) -> dict:
    env = dict(cluster["env"])
    # The submitted jobs run `python -m snakemake` and import stylizednerf: from this checkout.
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def squeue_all(cluster) -> dict[str, dict]:
    """{job id: {state, comment, name}} of every job slurmctld still knows (MinJobAge=600 s)."""
    done = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T|%k|%j"],
                          env=cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stdout
    jobs = {}
    for line in done.stdout.splitlines():
        job_id, state, comment, name = line.strip().split("|", 3)
        jobs[job_id] = {"state": state, "comment": comment, "name": name}
    return jobs


def submitted(log: str) -> list[tuple[str, str, str]]:
    """(snakemake job id, SLURM job id, rule) for every submission Snakemake logged."""
    return [(job, slurm, re.search(r"/rule_([^/]+)/", path).group(1)) for job, slurm, path in SUBMITTED.findall(log)]


def leftovers(folder: Path) -> list[str]:
    """Temporary files/folders of fileio's atomic writes (dot-prefixed) anywhere below ``folder``
    (not Snakemake's own: .snakemake/, and the .snakemake_timestamp it puts in directory() outputs)."""
    return [str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name not in (".snakemake", ".snakemake_timestamp")
            and ".snakemake" not in p.relative_to(folder).parts]


def check_demo_outputs(workdir: Path, config: dict) -> None:
    from PIL import Image

    from stylizednerf.cameras import read_cameras

    cameras = read_cameras(workdir / "results/inputs/demo/cameras.json")
    views = config["demo"]["views"]
    assert len(cameras.cameras) == views
    images = sorted((workdir / "results/inputs/demo/images").glob("*.png"))
    assert len(images) == views
    with Image.open(images[0]) as image:
        assert image.size == (config["demo"]["width"], config["demo"]["height"])
    assert leftovers(workdir / "results") == []


def test_demo_stages_run_as_slurm_jobs(slurm_cluster, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    tiny_config(workdir)
    profile = cpu_profile(tmp_path / "profile")
    styles = list(yaml.safe_load((workdir / "config.yaml").read_text())["styles"])
    targets = ["results/inputs/demo/cameras.json", *[f"results/styles/{s}.png" for s in styles]]
    started = time.monotonic()
    done = subprocess.run(snakemake_cmd(workdir, profile, *targets), env=job_env(slurm_cluster),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-6000:]
    print(f"SLURM demo stages: {elapsed:.1f} s")

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    check_demo_outputs(workdir, config)
    for style in styles:
        meta = json.loads((workdir / f"results/styles/{style}.json").read_text())
        assert meta, style

    jobs = submitted(done.stdout)
    rules = sorted(rule for _, _, rule in jobs)
    assert rules == sorted(["demo_scene"] + ["prepare_style"] * len(styles)), done.stdout[-4000:]
    known = squeue_all(slurm_cluster)
    ctld_log = (slurm_cluster["root"] / "slurmctld.log").read_text()
    run_names = {known[slurm]["name"] for _, slurm, _ in jobs}
    assert len(run_names) == 1, run_names  # one Snakemake run id as job name for all its jobs
    for _, slurm, rule in jobs:
        assert known[slurm]["state"] == "COMPLETED", known[slurm]
        assert known[slurm]["comment"].startswith(f"rule_{rule}"), known[slurm]
        assert f"_job_complete: JobId={slurm} WEXITSTATUS 0" in ctld_log
        # the plugin's per-job log: the rule really ran inside that SLURM job
        log = next((workdir / ".snakemake/slurm_logs").glob(f"rule_{rule}/**/{slurm}.log"))
        text = log.read_text()
        assert f"rule {rule}:" in text and "Finished jobid" in text, text[-2000:]


def wait_until(predicate, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_cancelled_job_is_retried_and_leaves_no_partial_outputs(slurm_cluster, tmp_path):
    """scancel a running job mid-write: Snakemake (retries: 2) resubmits it and the outputs come out whole."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    tiny_config(workdir)
    profile = cpu_profile(tmp_path / "profile")
    rule, target, log = "demo_scene", "results/inputs/demo/cameras.json", "results/logs/demo_scene.log"
    out_path = tmp_path / "snakemake.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(snakemake_cmd(workdir, profile, target), env=job_env(slurm_cluster),
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        # The first SLURM job of the rule, once its stage is busy (its progress bar is in the log).
        first = wait_until(lambda: next((s for _, s, r in submitted(out_path.read_text()) if r == rule), None),
                           120, f"the {rule} submission")
        wait_until(lambda: "views" in (workdir / log).read_text() if (workdir / log).exists() else False,
                   120, f"{rule} to start working")
        state = squeue_all(slurm_cluster)[first]["state"]
        assert state == "RUNNING", state
        cancel = subprocess.run(["scancel", first], env=slurm_cluster["env"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=30)
        assert cancel.returncode == 0, cancel.stdout
        # nothing half-written while the retry has not finished: the output is absent or whole
        assert not (workdir / target).exists() or json.loads((workdir / target).read_text())
        proc.wait(timeout=400)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
    text = out_path.read_text()
    assert proc.returncode == 0, text[-6000:]
    attempts = [s for _, s, r in submitted(text) if r == rule]
    assert len(attempts) == 2 and attempts[0] == first, text[-4000:]
    known = squeue_all(slurm_cluster)
    assert known[first]["state"] == "CANCELLED", known[first]
    assert known[attempts[1]]["state"] == "COMPLETED", known[attempts[1]]
    assert f"SLURM-job '{first}' failed, SLURM status is: 'CANCELLED'" in text
    check_demo_outputs(workdir, yaml.safe_load((workdir / "config.yaml").read_text()))
