"""The fast field's density MLP and its activation as one Triton kernel (inference, CUDA only).

The frozen geometry of a stylized render needs only the density of each sample (its features
are the hash encoding itself). In eager mode the two layers, the ReLU and ``trunc_exp`` are five
passes over (samples, 64) tensors; here a program takes 128 samples through both layers in
registers (float32 ``tl.dot``, i.e. TF32: bf16 dots lost ~0.2 in log-density against a float64
reference, and a bf16 kernel of the style MLP hit illegal memory accesses under Triton 3.6 on the
H100; BENCHMARKS.md) and writes one float each. Same densities as ``FastField.density`` in float32 to TF32 rounding
(tests/test_density_kernel.py).
"""

import sys

import torch

from stylizednerf.nerf import hash_kernel
from stylizednerf.nerf.fields import DENSITY_LOG_MAX

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

BLOCK_ROWS = 128
_failed = False

if triton is not None:

    @triton.jit
    def _density_kernel(feat_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, out_ptr, n_rows, log_max,
                        FEATURES: tl.constexpr, HIDDEN: tl.constexpr, OUT: tl.constexpr, BLOCK: tl.constexpr):
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        valid = rows < n_rows
        rows64 = rows.to(tl.int64)
        f_cols, h_cols, o_cols = tl.arange(0, FEATURES), tl.arange(0, HIDDEN), tl.arange(0, OUT)
        x = tl.load(feat_ptr + rows64[:, None] * FEATURES + f_cols[None, :], mask=valid[:, None], other=0.0)
        w1 = tl.load(w1_ptr + f_cols[:, None] * HIDDEN + h_cols[None, :])
        h = tl.dot(x.to(tl.float32), w1) + tl.load(b1_ptr + h_cols)[None, :]
        h = tl.maximum(h, 0.0)
        w2 = tl.load(w2_ptr + h_cols[:, None] * OUT + o_cols[None, :])
        out = tl.dot(h, w2) + tl.load(b2_ptr + o_cols)[None, :]
        raw = tl.sum(tl.where(o_cols[None, :] == 0, out, 0.0), axis=1)  # the density logit
        sigma = tl.exp(tl.minimum(raw - 1.0, log_max))
        tl.store(out_ptr + rows64, sigma, mask=valid)


def density_or_none(mlp, features: torch.Tensor):
    """Densities (N,) float32 of the fast field's ``density_mlp`` (Linear, ReLU, Linear) at
    encodings ``features`` (N, F): ``trunc_exp(h[:, 0] - 1)``; None where the kernel does not
    apply or failed (then a one-line note, once)."""
    first, last = mlp[0], mlp[-1]
    F, H, O = first.in_features, first.out_features, last.out_features

    def fits(n):
        return n >= 16 and n & (n - 1) == 0

    if (_failed or torch.is_grad_enabled() or not hash_kernel.available(features) or not all(map(fits, (F, H)))
            or O > 16):
        return None
    return hash_kernel.run_or_note(sys.modules[__name__], "density", "eager density MLP",
                                   lambda: densities(first, last, features))


def densities(first, last, features: torch.Tensor) -> torch.Tensor:
    """The kernel's densities (N,) for the MLP's two layers ``first`` and ``last`` (<= 16 outputs)."""
    n, H, O = features.shape[0], first.out_features, last.out_features
    out = torch.empty(n, device=features.device, dtype=torch.float32)
    if n == 0:
        return out
    w2 = torch.zeros(H, 16, device=features.device)
    w2[:, :O] = last.weight.t().float()
    b2 = torch.zeros(16, device=features.device)
    b2[:O] = last.bias.float()
    _density_kernel[(triton.cdiv(n, BLOCK_ROWS),)](
        features.contiguous(), first.weight.t().float().contiguous(), first.bias.float().contiguous(), w2, b2,
        out, n, DENSITY_LOG_MAX, FEATURES=first.in_features, HIDDEN=H, OUT=16, BLOCK=BLOCK_ROWS, num_warps=4)
    return out
