"""torch.compile for the fast field's density-grid update.

In eager mode the hash grid materialises its (samples, levels, 8 corners) index and value
tensors: gigabytes of memory traffic per million samples. An eager update of the 128^3 density
grid took 38 ms on an H100, every 16 training steps of ~3 ms each, so it was close to half of
the training time; compiled, the lookup is fused into a few kernels (BENCHMARKS.md: fern at
8192-ray batches went from 6440 to 9232 steps in 30 s). The training step compiles itself
(``Trainer``), so the grid update is the one other hot path of pre-training.

Rendering and the stylized NeRF's frozen geometry stay eager: compiling them for every chunk
shape (``dynamic=True``) cost 25-40 s per process on the H100, more than a pipeline job saves.

CPU, ``compile: false`` or any compiler failure -> the eager function (a one-line note on failure).
"""

import sys

import torch


class MaybeCompiled:
    """``fn`` compiled on first use when ``enabled``; eager otherwise, and after a failure."""

    def __init__(self, fn, enabled: bool, name: str = "inference"):
        self.fn = fn
        self.name = name
        # dynamic shapes: the last chunk of a grid whose size is not a multiple of 2^20 reuses the code
        self.compiled = torch.compile(fn, dynamic=True) if enabled else None

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception as error:  # noqa: BLE001  any compiler failure -> eager, once
                print(f"note: torch.compile of {self.name} failed ({type(error).__name__}: {error}); eager mode",
                      file=sys.stderr)
                self.compiled = None
        return self.fn(*args, **kwargs)


def compile_wanted(model, device: torch.device) -> bool:
    """Compile where it pays: CUDA, and the model's config asks for it (``nerf.compile``)."""
    cfg = getattr(model, "cfg", {}) or {}
    return torch.device(device).type == "cuda" and bool(cfg.get("compile", False))
