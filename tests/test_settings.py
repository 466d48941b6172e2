"""Typed stage settings (stylizednerf.settings): defaults from the schema, one unknown-key error,
result vs runtime fields, and a workflow that reruns only when result settings change."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_snakemake
from stylizednerf import settings as S
from stylizednerf.checkpoint import CHECKPOINT_ONLY_KEYS, result_settings
from stylizednerf.paths import PROJECT_ROOT

TRAINING_RULES = {"pretrain_nerf", "pretrain_decoder", "train_vae", "stylize", "stylize_sequential", "stylize_joint"}


def all_fields(cls, prefix=""):
    for f in dataclasses.fields(cls):
        sub = S._nested_type(f)
        if sub is not None:
            yield from all_fields(sub, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, f


def test_schema_is_found_from_the_package():
    assert S.SCHEMA_PATH == PROJECT_ROOT / "stylizednerf" / "config.schema.yaml"
    assert S.SCHEMA_PATH.is_file()


def test_a_built_wheel_ships_the_schema(tmp_path):
    """settings reads its defaults from the schema, so a non-editable install needs it inside the
    package: build the real wheel (from a copy, so the checkout gets no build/ folder), unpack it
    and read the settings from there, ahead of the editable install."""
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    shutil.copytree(PROJECT_ROOT / "stylizednerf", source / "stylizednerf",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "-w", str(tmp_path / "wheel"),
                            "--no-deps", "--no-build-isolation", "-q"], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("stylizednerf-*.whl")
    shutil.unpack_archive(wheel, tmp_path / "installed", format="zip")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from stylizednerf import settings; "
            "print(settings.SCHEMA_PATH); print(settings.DemoSettings().width)")
    read = subprocess.run([sys.executable, "-c", code, str(tmp_path / "installed")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr
    schema_path, width = read.stdout.split()
    assert schema_path == str(tmp_path / "installed" / "stylizednerf" / "config.schema.yaml")
    assert int(width) == S.schema_default("demo.width")


@pytest.mark.parametrize("stage", sorted(S.STAGES))
def test_defaults_are_the_schemas(stage):
    cls = S.STAGES[stage]
    values = cls().to_dict()
    for name, f in all_fields(cls):
        node = values
        for part in name.split("."):
            node = node[part]
        assert node == S.schema_default(f.metadata["source"]), f"{stage}: {name}"


def test_every_config_key_is_read_by_a_stage_or_the_workflow():
    read = {f.metadata["source"] for cls in S.STAGES.values() for _, f in all_fields(cls)}
    sections = ("demo", "style_images", "decoder", "vae", "adain", "evaluate", "report", "colmap", "nerf", "stylize",
                "joint", "render", "arf")

    def keys(prefix, node):
        for name, sub in node["properties"].items():
            if sub.get("type") == "object" and "properties" in sub:
                yield from keys(f"{prefix}{name}.", sub)
            else:
                yield prefix + name

    every = {key for section in sections for key in keys(f"{section}.", S.schema_property(section))}
    # top-level keys that are not sections (baselines): the workflow's
    # (gpu_mem_mb, a section that only the workflow's scheduling reads, is neither)
    every |= set(S.schema()["properties"]) - {"scenes", "styles", "seed", "device", *sections, *S.WORKFLOW_SECTIONS}
    assert every - read == set(S.WORKFLOW_KEYS)
    assert read - every == {"seed", "device"}


def test_drifted_demo_default_is_the_schemas():
    from stylizednerf.demo import cli

    assert (cli.DEFAULTS["width"], cli.DEFAULTS["height"]) == (320, 240)


def test_sfm_options_defaults_equal_the_colmap_settings():
    from stylizednerf.poses.sfm import SfmOptions

    options = dataclasses.asdict(SfmOptions())
    colmap = S.ColmapSettings().to_dict()
    assert {k: options[k] for k in colmap if k != "device"} == {k: v for k, v in colmap.items() if k != "device"}


@pytest.mark.parametrize("stage", sorted(S.STAGES))
def test_unknown_key_is_one_line_naming_it(stage):
    with pytest.raises(SystemExit) as error:
        S.STAGES[stage].parse('{"bogus": 1}')
    assert str(error.value) == f"error: {stage}: unknown setting 'bogus'"
    with pytest.raises(SystemExit) as error:
        S.STAGES[stage].parse("{}", '{"bogus": 1}')
    assert str(error.value) == f"error: {stage}: unknown setting 'bogus'"


def test_unknown_key_is_rejected_the_same_way_by_libraries_and_clis():
    from stylizednerf.nerf.model import resolve_config
    from stylizednerf.stylize.train import resolve_settings

    with pytest.raises(S.SettingsError, match=r"^error: pretrain-nerf: unknown setting 'fast.nope'$"):
        resolve_config({"fast": {"nope": 1}})
    with pytest.raises(S.SettingsError, match=r"^error: stylize: unknown setting 'nope'$"):
        resolve_settings({"nope": 1})
    for stage in ("pretrain-nerf", "pretrain-decoder", "train-vae", "stylize", "render", "evaluate", "report",
                  "demo-scene", "poses", "prepare-style"):
        done = subprocess.run([sys.executable, "-m", "stylizednerf", stage, "--out", "x",
                               "--settings", '{"bogus": 1}', *CLI_ARGS.get(stage, [])],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and done.stderr.strip().splitlines()[-1] == \
            f"error: {stage}: unknown setting 'bogus'", (stage, done.stderr[-2000:])


CLI_ARGS = {
    "pretrain-nerf": ["--cameras", "c.json"], "pretrain-decoder": ["--styles", "s.png"],
    "train-vae": ["--styles", "s.png"],
    "stylize": ["--views", "v", "--model", "m", "--decoder", "d", "--latents", "l", "--style-image", "s",
                "--style", "s"],
    "render": ["--stylized", "s", "--model", "m", "--cameras", "c"],
    "evaluate": ["--frames", "f", "--depth", "d", "--cameras", "c", "--style", "s", "--method", "gt",
                 "--pairs", "p"],
    "report": ["--evals", "e.json"], "poses": ["--scene", "s", "--source", "x"],
    "prepare-style": ["--name", "n", "--source", "demo"],
}


def test_a_value_outside_the_schemas_choices_is_one_line_naming_the_key():
    with pytest.raises(S.SettingsError, match=r"^error: stylize: setting 'encoding' must be one of hash, none, not 'pe'$"):
        S.StylizeSettings.from_dict({"encoding": "pe"})
    with pytest.raises(S.SettingsError, match=r"^error: pretrain-nerf: setting 'fast.grid_sampling' must be one of"):
        S.NerfSettings.from_dict({"fast": {"grid_sampling": "uniform"}})
    assert S.StylizeSettings.from_dict({"encoding": "none"}).encoding == "none"


def test_issue_runtime_settings_are_marked_runtime():
    assert {"compile", "cuda_graph", "render_chunk", "log_every", "checkpoint_every"} <= \
        S.NerfSettings.runtime_names()
    assert {"previews", "chunk", "ray_cache_bytes", "cuda_graph", "checkpoint_every"} <= \
        S.StylizeSettings.runtime_names()
    assert S.RenderSettings.runtime_names() == {"chunk", "device"}  # fps: the MP4 is a result
    assert "rounds" in S.StylizeSettings().result() and "fps" in S.RenderSettings().result()


@pytest.mark.parametrize("cls", S.TRAINERS, ids=lambda c: c.STAGE)
def test_checkpoint_fingerprint_keeps_the_result_settings(cls):
    """The checkpoint's runtime keys are the settings' runtime fields (plus its own few)."""
    def strip(values):
        return {k: strip(v) if isinstance(v, dict) else v for k, v in values.items() if k not in CHECKPOINT_ONLY_KEYS}

    settings = cls()
    assert result_settings(settings.to_dict()) == strip(settings.result())


# ---- the workflow reruns only what a changed result setting changes ------------------------------

def planned_jobs(output: str) -> dict:
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory):
    """A results tree of the demo DAG that Snakemake takes as finished with config.yaml: every output
    created empty, then --touch records each job's metadata (params, code) without running it."""
    workdir = tmp_path_factory.mktemp("rerun")
    shutil.copy(PROJECT_ROOT / "config.yaml", workdir / "config.yaml")
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(workdir)]
    summary = run_snakemake([*args, "--summary"], cwd=workdir, timeout=300).stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines() if "\t" in line and line.startswith("results/")]
    # logs and benchmark files too: rule benchmark_table reads them
    planned = run_snakemake([*args, "-n"], cwd=workdir, timeout=300).stdout
    outputs += sorted({m.group(1) for m in re.finditer(r"^\s+(?:log|benchmark): (results/\S+)$", planned, re.M)})
    for output in outputs:
        path = workdir / output
        # directory() outputs: every output file of the workflow has a suffix, no folder has one
        if not Path(output).suffix:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    run_snakemake([*args, "--touch", "--cores", "1"], cwd=workdir, timeout=300)
    assert planned_jobs(run_snakemake([*args, "-n"], cwd=workdir, timeout=300).stdout) == {}
    return workdir, args


def dry_run_with(finished_demo, section, key, value) -> dict:
    workdir, args = finished_demo
    config = yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text())
    config.setdefault(section, {})[key] = value
    path = workdir / f"changed_{section}_{key}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # style order matters (joint)
    return planned_jobs(run_snakemake([*args, "-n", "--configfile", str(path)], cwd=workdir, timeout=300).stdout)


@pytest.mark.parametrize("section, key, value", [("render", "fps", 24), ("stylize", "previews", 3),
                                                 ("nerf", "compile", True), ("stylize", "chunk", 4096),
                                                 ("nerf", "log_every", 7)])
def test_runtime_or_video_settings_plan_no_training_job(finished_demo, section, key, value):
    config = yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text())
    assert config.get(section, {}).get(key) != value
    jobs = dry_run_with(finished_demo, section, key, value)
    assert not set(jobs) & (TRAINING_RULES | {"render_views"}), jobs
    if (section, key) != ("render", "fps"):
        assert jobs == {}, jobs  # runtime settings rerun nothing at all
    else:
        assert {"render", "render_path"} <= set(jobs)  # the videos are results


def test_result_setting_plans_the_training_job(finished_demo):
    config = yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text())
    jobs = dry_run_with(finished_demo, "stylize", "rounds", config["stylize"]["rounds"] + 1)
    assert jobs.get("stylize") == len(config["styles"]), jobs
    assert not {"pretrain_nerf", "pretrain_decoder", "train_vae", "render_views"} & set(jobs), jobs


def test_settings_can_come_from_a_file(tmp_path):
    path = tmp_path / "stylize.json"
    path.write_text('{"rounds": 7}')
    assert S.StylizeSettings.parse(f"@{path}").rounds == 7
    with pytest.raises(SystemExit, match=r"^error: --settings: cannot read '.*missing.json' \("):
        S.StylizeSettings.parse(f"@{tmp_path / 'missing.json'}")
    path.write_text('{"rounds": ')
    with pytest.raises(SystemExit, match=r"^error: --settings is not valid JSON"):
        S.StylizeSettings.parse(f"@{path}")


def test_job_commands_name_a_settings_file_that_holds_the_stage_settings(finished_demo):
    """Snakemake prints each job's command: the settings are a short file path there, named by a
    hash of what it holds (so a changed setting is a changed param and reruns the job)."""
    workdir, args = finished_demo
    config = yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text())
    config["stylize"]["rounds"] += 1
    (workdir / "more_rounds.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    output = run_snakemake([*args, "-n", "-p", "--configfile", str(workdir / "more_rounds.yaml")], cwd=workdir,
                           timeout=300).stdout
    commands = [line for line in output.splitlines() if "python -m stylizednerf stylize " in line]
    assert len(commands) == len(config["styles"]) and all(len(c) < 800 for c in commands)
    name = re.search(r"--settings @?'?(results/settings/stylize-[0-9a-f]{12}\.json)", commands[0]).group(1)
    assert S.StylizeSettings.parse("@" + str(workdir / name)).rounds == config["stylize"]["rounds"]
    held = json.loads((workdir / name).read_text())
    assert held["rounds"] == config["stylize"]["rounds"] and not set(held) & S.StylizeSettings.runtime_names()
