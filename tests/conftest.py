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


def run_snakemake(args, cwd, check=True, timeout=1200):
    """Run Snakemake with this interpreter; return the CompletedProcess (stdout+stderr merged)."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-6000:]}")
    return result
