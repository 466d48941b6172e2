"""Make torchvision importable on a CPU-only torch.

PyPI publishes torchvision only as CUDA builds. Next to the CPU wheel of torch its native
library (``torchvision/_C.so``) fails to load, and torchvision's Python code then dies at import
time with ``RuntimeError: operator torchvision::nms does not exist``: it registers fake kernels
for ``nms``/``qnms``, the two ops whose schemas it expects the native library to have declared.
Declaring those two schemas ourselves, only when the native library cannot load, lets the
pure-Python parts of torchvision (models, transforms, utils), and therefore ``lpips``, work.
The detection ops stay unavailable; this project never uses them. Images go through
PIL/imageio, never ``torchvision.io``.

``stylizednerf/__init__.py`` runs this, so every entry point does it before torchvision loads.
With a matching CUDA torch + torchvision the native library loads and nothing is changed.
"""

import glob
import importlib.util
import os

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library = None  # kept alive: dropping the Library object would deregister the schemas


def _op_exists(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False


def _native_library_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # torchvision not installed: nothing to patch
    folder = list(spec.submodule_search_locations)[0]
    for path in glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd")):
        try:
            torch.ops.load_library(path)  # what torchvision itself does; loading twice is a no-op
            return True
        except (OSError, RuntimeError):
            return False
    return False


def ensure_torchvision_ops() -> bool:
    """Declare torchvision's nms/qnms schemas if its native library can't; True if we did."""
    global _library
    if all(_op_exists(name) for name in _SCHEMAS) or _native_library_loads():
        return False
    missing = [name for name in _SCHEMAS if not _op_exists(name)]
    if _library is None:
        _library = torch.library.Library("torchvision", "FRAGMENT")
    for name in missing:
        _library.define(_SCHEMAS[name])
    return bool(missing)
