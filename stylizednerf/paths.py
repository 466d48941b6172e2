"""Where things are: the project root, the real-data folder, image listings."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "STYLIZEDNERF_DATA"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def data_dir() -> Path | None:
    """The real-data folder: $STYLIZEDNERF_DATA, else ../shared/data beside the project, else None."""
    value = os.environ.get(DATA_ENV)
    if value:
        return Path(value).expanduser().resolve()
    default = (PROJECT_ROOT.parent / "shared" / "data").resolve()
    return default if default.is_dir() else None


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (PNG/JPEG, any case), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def frame_image(root: Path, file_path: str) -> Path:
    """The image of a transforms.json frame's ``file_path`` below ``root``; nerf-synthetic style
    paths without a suffix ("./train/r_0") find their .png/.jpg."""
    path = root / file_path
    if path.suffix == "" and not path.is_file():
        for suffix in (".png", ".jpg", ".jpeg"):
            if path.with_suffix(suffix).is_file():
                return path.with_suffix(suffix)
    return path


def prefer_this_python() -> None:
    """Put this interpreter's folder first in PATH, for the `python -m stylizednerf` of rules.

    Without --use-conda the rules' `python` must be the one running Snakemake (e.g.
    .venv/bin/python even when the venv is not activated). With --use-conda the environment's
    own bin folder is put in front of this at job time and wins.
    """
    import sys

    folder = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != folder:
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def import_from_checkout(checkout) -> str:
    """Shell prefix for every rule: jobs import stylizednerf from ``checkout``: the
    folder holding the package that the Snakefile imported (paths.PROJECT_ROOT), also when the workflow
    runs as a `module` from a deployment folder elsewhere.

    So jobs run the same code as the Snakefile, also inside --use-conda environments, where
    Snakemake removes PYTHONPATH from the job's environment and envs/*.yaml hold only the pinned
    dependencies. Braces are doubled because Snakemake formats the prefix like a shell command.
    """
    import shlex

    folder = shlex.quote(os.path.abspath(checkout)).replace("{", "{{").replace("}", "}}")
    return f"set -euo pipefail; export PYTHONPATH={folder}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
