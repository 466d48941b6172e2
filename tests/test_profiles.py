"""Execution profiles (profiles/slurm, profiles/local), GPU resources of the rules, lint.

GPU rules declare `resources: gpu=1`, `gpu_mem_mb` (from the config) and threads; the SLURM plugin
turns gpu=1 into `sbatch --gpus=1`; the local profile's `resources: gpu_mem_mb` packs GPU jobs by
their declared memory. Every rule has a benchmark file.
"""

import re
import shutil
import sys
from pathlib import Path

import yaml

from conftest import run_snakemake

ROOT = Path(__file__).resolve().parents[1]
# Rules that train or render with torch on the device: they get a GPU on a cluster.
GPU_RULES = {"pretrain_nerf", "pretrain_decoder", "train_vae", "adain_frames", "render_views", "render_path",
             "stylize", "stylize_sequential", "render", "render_sequential", "stylize_joint",
             "render_interpolation", "decoder_frames", "decoder_frames_sequential", "evaluate", "arf", "render_arf"}


def rule_blocks() -> dict[str, str]:
    blocks = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^\s*rule\s+", smk.read_text(), flags=re.M)[1:]:  # indented: rules under an if
            blocks[block.split(":", 1)[0].strip()] = block
    return blocks


def dry_run_resources(output: str) -> dict[str, list[str]]:
    """{rule: [its jobs' 'resources:' lines]} from Snakemake's dry-run output."""
    found = {}
    for chunk in re.split(r"^rule ", output, flags=re.M)[1:]:
        name = chunk.split(":", 1)[0].strip()
        resources = re.search(r"^\s+resources: (.*)$", chunk, flags=re.M)
        found.setdefault(name, []).append(resources.group(1) if resources else "")
    return found


def test_gpu_rules_declare_gpu_and_threads_cpu_rules_do_not():
    blocks = rule_blocks()
    present = GPU_RULES & set(blocks)
    assert present, "no GPU rule in the workflow yet"
    for name, block in blocks.items():
        has_gpu = re.search(r"^\s+gpu\s*=\s*1\s*,?\s*$", block, flags=re.M) is not None
        if name in GPU_RULES:
            assert has_gpu, f"GPU rule {name} lacks `resources: gpu=1`"
            assert re.search(r"^\s+threads:", block, flags=re.M), f"GPU rule {name} lacks threads:"
        else:
            assert not has_gpu and "gpu" not in block.split("shell:")[0], f"CPU rule {name} asks for a GPU"


def test_slurm_profile_sizes_every_gpu_rule():
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"  # sacct hangs where accounting is off
    assert profile["retries"] >= 1
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    assert set(profile["set-resources"]) == GPU_RULES
    for rule, values in profile["set-resources"].items():
        assert {"mem_mb", "runtime"} <= set(values), rule
        assert "gres" not in values and "gpu" not in values, f"{rule}: the GPU request belongs to the rule"


def test_slurm_profile_dry_run_shows_gpu_resources(tmp_path):
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    # train_vae (GPU) needs only the styles (CPU): a DAG with both kinds and no other branch's rule.
    done = run_snakemake(["-n", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                          "--profile", str(ROOT / "profiles/slurm"), "results/stylization2d/vae.pt"], cwd=ROOT,
                         timeout=300)
    jobs = dry_run_resources(done.stdout)
    assert set(jobs) == {"train_vae", "prepare_style"}, done.stdout[-3000:]
    for line in jobs["train_vae"]:
        assert re.search(r"\bgpu=1\b", line) and "mem_mb=8000" in line and "runtime=60" in line, line
    for line in jobs["prepare_style"]:
        assert "gpu" not in line and "mem_mb=4000" in line and "runtime=60" in line, line


def test_gpu_rules_declare_their_gpu_memory_from_the_config():
    import stylizednerf.settings as S

    keys = set(S.schema_property("gpu_mem_mb")["properties"])
    used = set()
    for name, block in rule_blocks().items():
        head = block.split("shell:")[0]
        found = re.search(r'^\s+gpu_mem_mb=config\["gpu_mem_mb"\]\["(\w+)"\],\s*$', head, flags=re.M)
        if name in GPU_RULES:
            assert found, f"GPU rule {name} lacks `gpu_mem_mb=config[\"gpu_mem_mb\"][...]`"
            used.add(found.group(1))
            # the job learns what it declared (device claim, ray cache size)
            assert "STYLIZEDNERF_GPU_MEM_MB={resources.gpu_mem_mb} python -m stylizednerf" in block, name
    assert used == keys  # every key is some rule's, no rule reads an undocumented one


def test_every_rule_has_a_benchmark_file_and_a_log_under_its_own_name():
    """benchmark: job_benchmark("<rule>", ...) and log: job_log("<rule>", ...) (common.smk): the
    paths that benchmark_table lists without asking the rules."""
    for name, block in rule_blocks().items():
        if name == "all":
            continue
        for section, helper in (("benchmark", "job_benchmark"), ("log", "job_log")):
            found = re.search(rf'^\s+{section}:\s*\n\s+{helper}\("(\w+)"[^\n]*\)', block, flags=re.M)
            assert found, f"rule {name} has no {section}: {helper}(\"{name}\", ...)"
            assert found.group(1) == name, (name, found.group(0))


def test_local_profile_packs_gpu_jobs_by_declared_memory(tmp_path):
    """Under the local profile's gpu_mem_mb total (80000): two 50000-MB jobs never overlap, two
    30000-MB jobs do; CPU jobs are not limited."""
    (tmp_path / "Snakefile").write_text('''
rule all:
    input: expand("{kind}{i}.txt", kind=["big", "small", "cpu"], i=[1, 2])
rule big:
    output: "big{i}.txt"
    resources: gpu=1, gpu_mem_mb=50000
    shell: "date +%s.%N > {output}; sleep 2; date +%s.%N >> {output}"
rule small:
    output: "small{i}.txt"
    resources: gpu=1, gpu_mem_mb=30000
    shell: "date +%s.%N > {output}; sleep 2; date +%s.%N >> {output}"
rule cpu:
    output: "cpu{i}.txt"
    shell: "date +%s.%N > {output}; sleep 2; date +%s.%N >> {output}"
''')
    profile = yaml.safe_load((ROOT / "profiles/local/config.yaml").read_text())
    assert profile["resources"] == {"gpu_mem_mb": 80000}
    run_snakemake(["--profile", str(ROOT / "profiles/local"), "--cores", "6"], cwd=tmp_path, timeout=300)

    def span(name):
        start, end = (float(x) for x in (tmp_path / name).read_text().split())
        return start, end

    def overlap(a, b):
        return min(span(a)[1], span(b)[1]) > max(span(a)[0], span(b)[0])

    assert not overlap("big1.txt", "big2.txt")  # 100000 > 80000
    declared = {"big1.txt": 50000, "big2.txt": 50000, "small1.txt": 30000, "small2.txt": 30000}
    events = sorted([(span(n)[0], mb) for n, mb in declared.items()] + [(span(n)[1], -mb) for n, mb in declared.items()],
                    key=lambda e: (e[0], e[1]))
    held, most, together = 0, 0, 0
    for _, mb in events:
        held += mb
        most = max(most, held)
    assert most <= 80000, events
    together = max(sum(overlap(a, b) for b in declared if b != a) for a in declared)
    assert together >= 1  # some GPU jobs ran side by side (30000 + 30000 or 30000 + 50000 fit)
    assert overlap("cpu1.txt", "cpu2.txt")  # the limit is the GPU memory, not the cores


def test_workflow_is_lint_clean(tmp_path):
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    done = run_snakemake(["--lint", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], cwd=ROOT,
                         check=False, timeout=300)
    assert done.returncode == 0 and "Lints for" not in done.stdout, done.stdout[-4000:]


def test_training_rules_take_their_threads_from_the_config(tmp_path):
    """`job_threads` sets the threads of the training and rendering jobs (the CPU demo's 1 lets two
    run side by side on 2 cores): a dry run with 3 shows every such job at 3 threads."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["job_threads"] = 3
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(["-n", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--cores", "8",
                          "results/stylization2d/vae.pt"], cwd=ROOT, timeout=300)
    chunks = {chunk.split(":", 1)[0].strip(): chunk for chunk in re.split(r"^rule ", done.stdout, flags=re.M)[1:]}
    assert re.search(r"^\s+threads: 3$", chunks["train_vae"], flags=re.M), chunks["train_vae"]
    for name, block in rule_blocks().items():
        if name in GPU_RULES and name != "evaluate":
            assert re.search(r"^\s+threads: JOB_THREADS$", block, flags=re.M), f"rule {name}: threads not from job_threads"


def test_no_command_names_a_results_path_itself():
    """Commands take their paths from {input}, {output}, {log} and params (folder_of): under a storage
    plugin a job's files are local copies elsewhere (tests/test_storage_plugin.py runs it)."""
    for name, block in rule_blocks().items():
        lines = block.split("shell:", 1)[1].splitlines()[1:] if "shell:" in block else []
        command = []
        for line in lines:  # the command's string literals (and comments between them)
            if not line.strip().startswith(('"', "#")):
                break
            command.append(line.strip())
        assert command or name == "all", f"rule {name}: no shell command found"
        assert not any("results/" in line for line in command if line.startswith('"')), f"rule {name}: {command}"
