"""Writing outputs so that a killed job never leaves a half-written file behind.

Everything is written to a temporary name in the destination folder and renamed into place:
a rename within one file system is atomic, so a reader sees the old file, the new one, or none.

Temporaries are hidden siblings named ``.<name>.partial-<random>``. An error or SIGTERM deletes
them; SIGKILL cannot be caught, so the next write of the same output deletes what a killed job
left (:func:`remove_leftovers`). Outputs get the permissions of an ordinary file or folder under
the process's umask (``mkstemp``/``mkdtemp`` alone would make them private: 0600/0700).
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

PARTIAL = ".partial-"  # marks a temporary: .<name>.partial-<random>


def current_umask() -> int:
    """The process's umask, read from /proc (os.umask can only read it by setting it, which would
    race with the checkpoint writer's thread); where /proc lacks it, set and restored at once."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def partial_prefix(path) -> str:
    """The name prefix of ``path``'s temporaries (its folder's hidden ``.<name>.partial-*``)."""
    return f".{Path(path).name}{PARTIAL}"


def remove_leftovers(path) -> list[Path]:
    """Delete the temporaries of ``path`` that a killed job left in its folder; return them.

    One job writes one output (Snakemake never runs two jobs for the same file), so any such
    temporary is a dead job's.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = sorted(path.parent.glob(partial_prefix(path) + "*"))
    for leftover in removed:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return removed


def check_writable(folder) -> Path:
    """SystemExit with one line naming ``folder`` unless files can be created in it (or, where it
    does not exist yet, in the folder that would hold it). Creates nothing. Trainers call it
    before training, so an unwritable output folder fails in the first second, not at the end."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        why = error.strerror or str(error)
        raise SystemExit(f"error: {folder}: output folder is not writable ({why})") from None
    return folder


@contextlib.contextmanager
def _unwritable_is_one_line(folder: Path):
    """An output folder that cannot be made or written in: the one-line error of check_writable."""
    try:
        yield
    except OSError as error:
        why = error.strerror or str(error)
        raise SystemExit(f"error: {folder}: output folder is not writable ({why})") from None


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete on error."""
    path = Path(path)
    with _unwritable_is_one_line(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(path)
        fd, tmp = tempfile.mkstemp(prefix=partial_prefix(path), suffix=suffix if suffix is not None else path.suffix,
                                   dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder next to ``path``; it replaces ``path`` on success, vanishes on error."""
    path = Path(path)
    with _unwritable_is_one_line(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(path)
        tmp = Path(tempfile.mkdtemp(prefix=partial_prefix(path), dir=path.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def atomic_save_torch(path, obj) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_save_image(path, array) -> None:
    """Save a uint8 HxW or HxWxC array as PNG/JPEG (format from the suffix)."""
    from PIL import Image

    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG" if path.suffix.lower() == ".png" else "JPEG")
