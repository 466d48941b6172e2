"""Where a stylize or stylize-joint job keeps its resumable state: one fingerprinted
:class:`stylizednerf.checkpoint.Checkpoint` per job, of a kind per trainer."""

from pathlib import Path

from stylizednerf.checkpoint import Checkpoint, fingerprint

STYLIZE_CHECKPOINT = "stylize/1"  # checkpoint kinds: bump when a saved state changes shape
JOINT_CHECKPOINT = "stylize-joint/1"


def training_checkpoint(folder, kind: str, settings: dict, inputs) -> Checkpoint:
    """The resumable checkpoint ``<folder>/state.pt`` of a stylize or stylize-joint job (no folder:
    none), written in the background (~20 checkpoints of ~45 MB per style at the paper's
    defaults); ``inputs`` (name -> digest) is a mapping or a function giving one, called only
    when there is a folder."""
    if not folder:
        return Checkpoint(None, {})
    inputs = inputs() if callable(inputs) else inputs
    return Checkpoint(Path(folder) / "state.pt", fingerprint(kind, settings, inputs),
                      log=lambda message: print(message, flush=True), background=True)
