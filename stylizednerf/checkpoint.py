"""Resumable training checkpoints that know what they belong to; one class for every trainer.

A :class:`Checkpoint` is one file holding a trainer's state and a *fingerprint*: the settings
that change the result (runtime-only knobs, :data:`RUNTIME_KEYS`, left out) and SHA-256 hashes
of the input files' bytes (not their paths: a file replaced under the same name is another
input). A run resumes only from a checkpoint whose fingerprint equals its own.

A checkpoint that cannot be read (truncated, not a torch file, not ours) or whose fingerprint
differs is **set aside**: renamed to ``<name>.stale`` (replacing an older one, so at most one
lingers), with a one-line note naming why, and training starts afresh; it is never resumed and
never a crash. A finished job calls :meth:`Checkpoint.remove`, which deletes the checkpoint, its
``.stale`` file, and the folder when nothing else is left in it.

Writes are atomic (:func:`stylizednerf.fileio.atomic_save_torch`); with ``background=True`` a
thread writes a host copy of the state while training goes on (use the checkpoint as a ``with``
block: leaving it waits for the last write and re-raises a failed one). Files are read with
``torch.load(weights_only=True)``, so the fingerprint is plain data (str/int/float/bool/None,
lists, dicts).
"""

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from stylizednerf.fileio import atomic_save_torch, remove_leftovers
from stylizednerf.settings import TRAINERS

FORMAT = "stylizednerf-checkpoint/1"

# A resumable state does not depend on these, although a job's result may: the time budget
# (a checkpoint from a run with another budget is the same state), the extra content folder
# (its images' bytes are in the fingerprint's inputs) and a key only the workflow reads.
CHECKPOINT_ONLY_KEYS = frozenset({"max_seconds", "extra_content", "sequential_baseline"})
# settings that never change what a trainer computes: the runtime fields of the trainers' typed
# settings (stylizednerf.settings: devices, logging, previews and samples, checkpoint and progress
# frequencies, chunk and cache sizes, compilation, CUDA graphs) and the keys above
RUNTIME_KEYS = frozenset().union(*(cls.runtime_names() for cls in TRAINERS)) | CHECKPOINT_ONLY_KEYS


def hash_files(paths) -> str:
    """SHA-256 hex digest of the files' bytes in the given order (a folder: its files, sorted by
    relative path); names and locations do not enter."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            with open(file, "rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def hash_value(value) -> str:
    """SHA-256 hex digest of plain data (e.g. camera parameters), through canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=_plain_default).encode()).hexdigest()


def _plain_default(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars, tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not plain data: {type(value).__name__}")


def result_settings(settings: dict, runtime=RUNTIME_KEYS) -> dict:
    """``settings`` without runtime-only keys (at any depth), as plain JSON data."""
    def strip(value):
        if isinstance(value, dict):
            return {str(k): strip(v) for k, v in value.items() if k not in runtime}
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        return value

    return json.loads(json.dumps(strip(settings), sort_keys=True, default=_plain_default))


def fingerprint(kind: str, settings: dict, inputs: dict) -> dict:
    """What a checkpoint belongs to: the trainer (``kind``, with a version for its state layout),
    its result settings and its inputs (name -> :func:`hash_files` / :func:`hash_value` digest)."""
    return {"kind": kind, "settings": result_settings(settings), "inputs": dict(sorted(inputs.items()))}


def differences(old, new) -> list[str]:
    """Names of the fingerprint entries that differ (``settings.lr``, ``inputs.styles``, ``kind``)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else ["fingerprint"]
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key in ("settings", "inputs") and isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{k}" for k in sorted(set(a) | set(b), key=str) if a.get(k) != b.get(k)]
        else:
            out.append(str(key))
    return out


def to_host(state):
    """A copy of a (nested) state with every tensor copied to the CPU."""
    if torch.is_tensor(state):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {key: to_host(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(to_host(value) for value in state)
    return state


class Checkpoint:
    """A trainer's resumable state in ``path`` (None: no checkpoint; loads nothing, saves nothing)."""

    def __init__(self, path, fingerprint: dict, log=print, background: bool = False):
        self.path = Path(path) if path else None
        self.fingerprint = fingerprint
        self.log = log
        self._pool = ThreadPoolExecutor(max_workers=1) if background and self.path is not None else None
        self._pending = None

    @property
    def enabled(self) -> bool:
        return self.path is not None

    @property
    def stale_path(self) -> Path:
        return self.path.with_name(self.path.name + ".stale")

    def load(self, map_location="cpu") -> dict | None:
        """The saved state when it belongs to this run; otherwise None (set aside with a note)."""
        if self.path is None or not self.path.is_file():
            return None
        try:
            payload = torch.load(self.path, map_location=map_location, weights_only=True)
        except Exception as error:  # noqa: BLE001  truncated, not a torch file, a foreign pickle
            from stylizednerf.model_files import why_unreadable

            self._set_aside(f"cannot be read ({why_unreadable(self.path, error)})")
            return None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state" not in payload:
            self._set_aside("is not a stylizednerf checkpoint")
            return None
        changed = differences(payload.get("fingerprint"), self.fingerprint)
        if changed:
            self._set_aside(f"was made with other {', '.join(changed)}")
            return None
        self.log(f"resuming from {self.path}")
        return payload["state"]

    def _set_aside(self, why: str) -> None:
        try:
            os.replace(self.path, self.stale_path)
            where = f"moved to {self.stale_path.name}"
        except OSError:
            self.path.unlink(missing_ok=True)
            where = "removed"
        self.log(f"note: checkpoint {self.path} {why}; {where}, starting afresh")

    def save(self, state: dict) -> None:
        """Write ``state`` with the fingerprint (atomically; in the background when asked)."""
        if self.path is None:
            return
        payload = {"format": FORMAT, "fingerprint": self.fingerprint, "state": state}
        if self._pool is None:
            atomic_save_torch(self.path, payload)
            return
        payload["state"] = to_host(state)  # device tensors change with the next step
        self._wait()
        self._pending = self._pool.submit(atomic_save_torch, self.path, payload)

    __call__ = save

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()

    def remove(self) -> None:
        """The job is finished: delete the checkpoint, its set-aside copy, and an emptied folder."""
        if self.path is None:
            return
        self._wait()
        self.path.unlink(missing_ok=True)
        self.stale_path.unlink(missing_ok=True)
        remove_leftovers(self.path)  # a write of a killed run
        try:
            self.path.parent.rmdir()  # only when empty (the 2D trainers share theirs)
        except OSError:
            pass
