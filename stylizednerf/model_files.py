"""Reading the project's torch files (model.pt, decoder.pt, checkpoints): weights only, and one
line naming the file and what is wrong with it when it cannot be used.

Files are read with ``torch.load(weights_only=True)``: tensors and plain data, never arbitrary
pickled objects. What goes wrong is told apart for the user: a missing file, an empty one, a
torch file cut short (a copy or a write that did not finish), a file that is not a torch file at
all, one holding pickled objects (refused), and, left to the caller, a torch file of another kind
(a decoder given where a NeRF model is expected).
"""

import pickle
import zipfile
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format is a zip archive
PICKLE_MAGIC = b"\x80"  # ... or, from old torch versions, a bare pickle (protocol 2+)


class ModelFileError(ValueError):
    """A torch file that cannot be used; ``str(error)`` is ``<path>: <what is wrong>``, one line."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def why_unreadable(path, error: BaseException) -> str:
    """Why ``torch.load`` failed on ``path``, in words (truncated, not a torch file, ...)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError as os_error:
        return f"cannot be read ({os_error.strerror or os_error})"
    if size == 0:
        return "empty file"
    if head == ZIP_MAGIC and not zipfile.is_zipfile(path):
        return "truncated (the torch file ends early)"
    if head != ZIP_MAGIC and head[:1] != PICKLE_MAGIC:
        return "not a torch file"
    if isinstance(error, pickle.UnpicklingError) and "weights only" in str(error).lower():
        return "holds pickled Python objects, not only weights (refused)"
    first = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
    return f"damaged torch file ({type(error).__name__}{': ' + first if first else ''})"


def load_torch_file(path, what: str, map_location="cpu"):
    """The contents of the torch file ``path`` (weights only); :class:`ModelFileError` naming the
    file and ``what`` was expected (e.g. "NeRF model") when it is missing or unreadable."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, f"{what} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001  zip, pickle and torch errors alike: told apart below
        raise ModelFileError(path, f"{why_unreadable(path, error)}; expected a {what}") from None


def load_state(module, state, path, what: str) -> None:
    """``module.load_state_dict(state)``; :class:`ModelFileError` when the weights do not fit."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError, KeyError) as error:
        first = str(error).strip().splitlines()[0][:120]
        raise ModelFileError(path, f"not a {what} (its weights do not fit: {first})") from None
