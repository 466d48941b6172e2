"""The hash-grid lookup for inference as one Triton kernel (CUDA only; eager fallback elsewhere).

Rendering a 504x378 view reads the hash grid at ~9 M points. The eager lookup writes and reads
an (N, levels, 8) int64 index and its weights, gigabytes per view, so it held the stylized
renderer to ~8 FPS on an H100 (BENCHMARKS.md, issue 6). This kernel computes each point's
corner indices and trilinear weights in registers and writes only the (N, levels * features)
result. A plain Triton kernel, not ``torch.compile``: it compiles in about a second (and is
cached on disk by Triton), where compiling the renderer cost 25-40 s per process.

Same numbers as ``HashEncoding._forward_training`` (tests/test_hash_kernel.py; on CPU the test
runs the kernel in Triton's interpreter when Triton is installed).
"""

import os
import sys

import torch

try:  # Triton ships with CUDA builds of torch; CPU builds and macOS have none
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

HASH_PRIMES = (1, 2654435761, 805459861)  # as stylizednerf.nerf.fields
BLOCK = 256
_failed = False


def available(x: torch.Tensor, features: int = 2) -> bool:
    """Whether the kernel can run on ``x``: Triton present, CUDA (or Triton's CPU interpreter), and a
    power-of-two number of features per level."""
    if triton is None or _failed or os.environ.get("STYLIZEDNERF_NO_TRITON") or features & (features - 1):
        return False
    return x.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


def run_or_note(module, what: str, fallback: str, launch):
    """``launch()``, or None after a Triton or driver failure: then ``module._failed`` is set, so
    that module's kernel is not tried again, and a one-line note names the eager ``fallback``.
    The render goes on either way. Running out of GPU memory is no kernel failure: it propagates."""
    try:
        return launch()
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as error:  # noqa: BLE001  a Triton or driver failure must not stop a render
        module._failed = True
        print(f"note: the Triton {what} kernel failed ({type(error).__name__}: {error}); {fallback}",
              file=sys.stderr)
        return None


if triton is not None:

    @triton.jit
    def _encode_kernel(x_ptr, table_ptr, res_ptr, out_ptr, n_points,
                       TABLE_SIZE: tl.constexpr, LEVELS: tl.constexpr, DENSE_LEVELS: tl.constexpr,
                       FEATURES: tl.constexpr, BLOCK_SIZE: tl.constexpr):
        # one program: BLOCK_SIZE points at one level (a level's table stays hot in L2)
        level = tl.program_id(1)
        offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
        valid = offs < n_points
        point = offs.to(tl.int64) * 3
        px = tl.minimum(tl.maximum(tl.load(x_ptr + point, mask=valid, other=0.0), 0.0), 1.0 - 1e-6)
        py = tl.minimum(tl.maximum(tl.load(x_ptr + point + 1, mask=valid, other=0.0), 0.0), 1.0 - 1e-6)
        pz = tl.minimum(tl.maximum(tl.load(x_ptr + point + 2, mask=valid, other=0.0), 0.0), 1.0 - 1e-6)
        res = tl.load(res_ptr + level)
        px, py, pz = px * res, py * res, pz * res
        bx, by, bz = tl.floor(px), tl.floor(py), tl.floor(pz)
        fx, fy, fz = px - bx, py - by, pz - bz
        ix, iy, iz = bx.to(tl.int64), by.to(tl.int64), bz.to(tl.int64)
        stride = res.to(tl.int64) + 1
        dense = level < DENSE_LEVELS
        row0 = level.to(tl.int64) * TABLE_SIZE
        feature = tl.arange(0, FEATURES)[None, :]
        load_mask = valid[:, None] & (feature < FEATURES)
        acc = tl.zeros([BLOCK_SIZE, FEATURES], dtype=tl.float32)
        for corner in tl.static_range(8):
            cx, cy, cz = corner & 1, (corner >> 1) & 1, corner >> 2
            gx, gy, gz = ix + cx, iy + cy, iz + cz
            dense_index = gx + gy * stride + gz * stride * stride
            hashed = gx ^ (gy * 2654435761) ^ (gz * 805459861)
            index = tl.where(dense, dense_index, hashed) & (TABLE_SIZE - 1)
            wx = fx if cx == 1 else 1.0 - fx
            wy = fy if cy == 1 else 1.0 - fy
            wz = fz if cz == 1 else 1.0 - fz
            value = tl.load(table_ptr + ((row0 + index) * FEATURES)[:, None] + feature, mask=load_mask, other=0.0)
            acc += ((wz * wy) * wx)[:, None] * value.to(tl.float32)
        out_index = (offs.to(tl.int64) * (LEVELS * FEATURES) + level * FEATURES)[:, None] + feature
        tl.store(out_ptr + out_index, acc.to(out_ptr.dtype.element_ty), mask=load_mask)


def encode(x: torch.Tensor, table: torch.Tensor, resolution: torch.Tensor, levels: int, dense_levels: int,
           table_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, levels * features) features of points ``x`` (N, 3) in [0, 1], accumulated in float32 and
    stored as ``dtype``; ``table`` (levels * table_size, features); ``resolution`` (levels,) float32."""
    x = x.float().contiguous()
    table = table.contiguous()
    features = table.shape[1]
    out = torch.empty(x.shape[0], levels * features, device=x.device, dtype=dtype)
    if x.shape[0] == 0:
        return out
    grid = (triton.cdiv(x.shape[0], BLOCK), levels)
    _encode_kernel[grid](x, table, resolution.float().contiguous(), out, x.shape[0], TABLE_SIZE=table_size,
                         LEVELS=levels, DENSE_LEVELS=dense_levels, FEATURES=features, BLOCK_SIZE=BLOCK)
    return out


def encode_or_none(encoding, x: torch.Tensor):
    """The kernel's result for ``encoding`` (a HashEncoding), or None where it cannot run or failed
    (then a one-line note, once, and the caller's eager lookup from there on). bf16 under CUDA
    autocast, else float32."""
    if not available(x, encoding.features):
        return None
    # under CUDA autocast every consumer (MLPs, the ray cache) reads the features as bf16: store them so
    dtype = torch.get_autocast_dtype("cuda") if x.is_cuda and torch.is_autocast_enabled("cuda") else torch.float32
    return run_or_note(sys.modules[__name__], "hash-grid", "eager lookup", lambda: encode(
        x, encoding.table.detach(), encoding.resolution, encoding.levels, encoding.dense_levels, encoding.table_size,
        dtype))
