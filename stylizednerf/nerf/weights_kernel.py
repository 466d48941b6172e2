"""Volume-rendering weights and each ray's expected sampling parameter as one Triton kernel
(inference, CUDA only).

``render_weights`` + ``expected_parameter`` are a dozen passes over (rays, samples) tensors in
eager mode (products, exponentials, a scan, a concatenation, sums): ~2 ms of a 504x378 stylized
frame on an H100 (BENCHMARKS.md, issue 6). Here a program takes ``BLOCK_RAYS`` whole rays, the
samples padded to a power of two, and writes the weights and one float per ray. The exclusive
prefix sum of the optical depth is a scan of the shifted optical depths, as in ``render_weights``
(not ``cumsum - tau``, which cancels after a dense sample). Same numbers to float32 rounding
(tests/test_weights_kernel.py).
"""

import sys

import torch

from stylizednerf.nerf import hash_kernel

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

BLOCK_RAYS = 16
_failed = False

if triton is not None:

    @triton.jit
    def _weights_kernel(sigma_ptr, delta_ptr, edge_ptr, weight_ptr, s_ptr, n_rays, n_samples,
                        BLOCK_RAYS: tl.constexpr, SAMPLES: tl.constexpr):
        rays = tl.program_id(0) * BLOCK_RAYS + tl.arange(0, BLOCK_RAYS)
        cols = tl.arange(0, SAMPLES)
        valid = (rays < n_rays)[:, None] & (cols < n_samples)[None, :]
        at = rays.to(tl.int64)[:, None] * n_samples + cols[None, :]
        tau = tl.load(sigma_ptr + at, mask=valid, other=0.0) * tl.load(delta_ptr + at, mask=valid, other=0.0)
        shifted = valid & (cols >= 1)[None, :]
        tau_before = (tl.load(sigma_ptr + at - 1, mask=shifted, other=0.0)
                      * tl.load(delta_ptr + at - 1, mask=shifted, other=0.0))
        weights = tl.exp(-tl.cumsum(tau_before, axis=1)) * (1.0 - tl.exp(-tau))
        tl.store(weight_ptr + at, weights, mask=valid)
        edge_at = rays.to(tl.int64)[:, None] * (n_samples + 1) + cols[None, :]
        mids = 0.5 * (tl.load(edge_ptr + edge_at, mask=valid, other=0.0)
                      + tl.load(edge_ptr + edge_at + 1, mask=valid, other=0.0))
        acc = tl.sum(weights, axis=1)
        mean = tl.sum(weights * mids, axis=1) / tl.maximum(acc, 1e-6)
        last = tl.sum(tl.where((cols == n_samples - 1)[None, :], mids, 0.0), axis=1)
        tl.store(s_ptr + rays, tl.where(acc > 1e-6, mean, last), mask=rays < n_rays)


def weights_or_none(sigma: torch.Tensor, deltas: torch.Tensor, edges: torch.Tensor):
    """``(render_weights(sigma, deltas), expected_parameter(weights, edges))`` for densities and
    interval lengths (R, S) and edges (R, S + 1), float32; None where the kernel does not apply or
    failed (then a one-line note, once)."""
    if _failed or torch.is_grad_enabled() or not hash_kernel.available(sigma) or sigma.dim() != 2:
        return None
    return hash_kernel.run_or_note(sys.modules[__name__], "weights", "eager weights",
                                   lambda: weights_and_expectation(sigma, deltas, edges))


def weights_and_expectation(sigma: torch.Tensor, deltas: torch.Tensor, edges: torch.Tensor):
    """The kernel's (weights (R, S), expected parameter (R,)); see :func:`weights_or_none`."""
    R, S = sigma.shape
    weights = torch.empty(R, S, device=sigma.device, dtype=torch.float32)
    s = torch.empty(R, device=sigma.device, dtype=torch.float32)
    if R == 0:
        return weights, s
    _weights_kernel[(triton.cdiv(R, BLOCK_RAYS),)](
        sigma.float().contiguous(), deltas.float().contiguous(), edges.float().contiguous(), weights, s, R, S,
        BLOCK_RAYS=BLOCK_RAYS, SAMPLES=triton.next_power_of_2(S), num_warps=4)
    return weights, s
