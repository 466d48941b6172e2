"""Occupancy-guided sampling of forward-facing rays as one Triton kernel (inference, CUDA only).

At render time the fast field places its samples in two steps (``NerfModel.sample_edges``): 128
uniform samples read the density grid, their alpha values make a histogram, and inverse-CDF
sampling of that histogram gives the field's sample intervals. In eager mode that is ~60
elementwise passes over (rays, 128) tensors, about a third of a stylized frame's time on an
H100 (BENCHMARKS.md, issue 6). This kernel keeps each ray's 128 bins in registers and writes
only the (rays, n + 1) edges.

It mirrors, for forward-facing (NDC) scenes with ``grid_sampling: alpha`` and no jitter:
``uniform_edges`` -> ``unit_points`` -> ``DensityGrid.query`` (trilinear, border, align_corners)
-> alpha = 1 - exp(-sigma delta) -> ``pdf_edges``. Same edges as the eager code to float
rounding (tests/test_sample_kernel.py; on CPU in Triton's interpreter when Triton is installed).
Other cases (360 scenes, training with jitter, transmittance sampling) stay eager.
"""

import sys

import torch

from stylizednerf.nerf import hash_kernel

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

RAYS_PER_PROGRAM = 16


if triton is not None:

    @triton.jit
    def _grid_density(grid_ptr, x, y, z, R: tl.constexpr, mask):
        """Trilinear density (align_corners, border) at unit-cube points; grid laid out [x, y, z]."""
        gx = tl.minimum(tl.maximum(x * (R - 1), 0.0), R - 1.0)
        gy = tl.minimum(tl.maximum(y * (R - 1), 0.0), R - 1.0)
        gz = tl.minimum(tl.maximum(z * (R - 1), 0.0), R - 1.0)
        x0f, y0f, z0f = tl.floor(gx), tl.floor(gy), tl.floor(gz)
        fx, fy, fz = gx - x0f, gy - y0f, gz - z0f
        x0, y0, z0 = x0f.to(tl.int32), y0f.to(tl.int32), z0f.to(tl.int32)
        x1, y1, z1 = tl.minimum(x0 + 1, R - 1), tl.minimum(y0 + 1, R - 1), tl.minimum(z0 + 1, R - 1)
        out = tl.zeros(x.shape, dtype=tl.float32)
        for corner in tl.static_range(8):
            ix = x1 if corner & 1 else x0
            iy = y1 if (corner >> 1) & 1 else y0
            iz = z1 if corner >> 2 else z0
            wx = fx if corner & 1 else 1.0 - fx
            wy = fy if (corner >> 1) & 1 else 1.0 - fy
            wz = fz if corner >> 2 else 1.0 - fz
            value = tl.load(grid_ptr + (ix * R + iy) * R + iz, mask=mask, other=0.0)
            out += wx * wy * wz * value
        return out

    @triton.jit
    def _coarse_edges_kernel(o_ptr, d_ptr, grid_ptr, u_ptr, lo_ptr, hi_ptr, out_ptr, n_rays, uniform_fraction,
                             BINS: tl.constexpr, R: tl.constexpr, SAMPLES: tl.constexpr, BLOCK: tl.constexpr):
        rays = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        valid = rays < n_rays
        row = rays.to(tl.int64) * 3
        ox = tl.load(o_ptr + row, mask=valid, other=0.0)[:, None]
        oy = tl.load(o_ptr + row + 1, mask=valid, other=0.0)[:, None]
        oz = tl.load(o_ptr + row + 2, mask=valid, other=0.0)[:, None]
        dx = tl.load(d_ptr + row, mask=valid, other=0.0)
        dy = tl.load(d_ptr + row + 1, mask=valid, other=0.0)
        dz = tl.load(d_ptr + row + 2, mask=valid, other=0.0)
        norm = tl.sqrt(dx * dx + dy * dy + dz * dz)[:, None]
        dx, dy, dz = dx[:, None], dy[:, None], dz[:, None]
        bins = tl.arange(0, BINS)[None, :]
        width = 1.0 / BINS
        mid = (bins.to(tl.float32) * width + (bins + 1).to(tl.float32) * width) * 0.5
        lx, ly, lz = tl.load(lo_ptr), tl.load(lo_ptr + 1), tl.load(lo_ptr + 2)
        hx, hy, hz = tl.load(hi_ptr), tl.load(hi_ptr + 1), tl.load(hi_ptr + 2)
        x = tl.minimum(tl.maximum((ox + mid * dx - lx) / (hx - lx), 0.0), 1.0)
        y = tl.minimum(tl.maximum((oy + mid * dy - ly) / (hy - ly), 0.0), 1.0)
        z = tl.minimum(tl.maximum((oz + mid * dz - lz) / (hz - lz), 0.0), 1.0)
        mask2 = valid[:, None] & (bins < BINS)
        sigma = _grid_density(grid_ptr, x, y, z, R, mask2)
        alpha = 1.0 - tl.exp(-(sigma * (width * norm)))
        # pdf_edges
        w = alpha + 1e-6
        pdf = w / tl.sum(w, axis=1)[:, None]
        pdf = (1.0 - uniform_fraction) * pdf + uniform_fraction * width
        cdf = tl.cumsum(pdf, axis=1)
        cdf = cdf / tl.sum(tl.where(bins == BINS - 1, cdf, 0.0), axis=1)[:, None]  # cdf[j] = C_{j+1}
        out_row = rays.to(tl.int64) * (SAMPLES + 1)
        for k in range(SAMPLES + 1):  # a loop, not unrolled: the kernel compiles in a second
            u = tl.load(u_ptr + k)
            idx = 1 + tl.sum((cdf <= u).to(tl.int32), axis=1)  # searchsorted(right) over C_0 = 0, C_1..
            below = tl.minimum(tl.maximum(idx - 1, 0), BINS)
            above = tl.minimum(idx, BINS)
            cdf_b = tl.sum(tl.where(bins == below[:, None] - 1, cdf, 0.0), axis=1)
            cdf_a = tl.sum(tl.where(bins == above[:, None] - 1, cdf, 0.0), axis=1)
            e_b, e_a = below.to(tl.float32) * width, above.to(tl.float32) * width
            gap = cdf_a - cdf_b
            denom = tl.where(gap < 1e-8, 1.0, gap)
            edge = tl.minimum(tl.maximum(e_b + (u - cdf_b) / denom * (e_a - e_b), 0.0), 1.0)
            tl.store(out_ptr + out_row + k, edge, mask=valid)


_failed = False


def edges_or_none(model, rays, jitter: bool):
    """The kernel's edges for ``model`` (a fast ``NerfModel``) and ``rays``, or None where it does
    not apply (see the module text) or failed (then a one-line note, once, and eager from there)."""
    f = model.field_cfg
    if (jitter or _failed or model.space.kind != "forward" or f["grid_sampling"] != "alpha"
            or torch.is_grad_enabled() or torch.compiler.is_compiling() or not hash_kernel.available(rays.ndc_dirs)
            or f["coarse_samples"] & (f["coarse_samples"] - 1)):
        return None
    return hash_kernel.run_or_note(sys.modules[__name__], "sampling", "eager sampling", lambda: coarse_edges(
        rays.ndc_origins, rays.ndc_dirs, model.grid.density, model.bbox_lo, model.bbox_hi, f["coarse_samples"],
        f["samples"], f["uniform_fraction"]))


def coarse_edges(ndc_origins: torch.Tensor, ndc_dirs: torch.Tensor, density: torch.Tensor, lo: torch.Tensor,
                 hi: torch.Tensor, bins: int, samples: int, uniform_fraction: float) -> torch.Tensor:
    """Edges (B, samples + 1) of the field's samples along NDC rays (B, 3): see the module text.
    ``density``: the (r, r, r) grid; ``bins`` (the coarse samples) must be a power of two."""
    n = ndc_origins.shape[0]
    out = torch.empty(n, samples + 1, device=ndc_origins.device, dtype=torch.float32)
    if n == 0:
        return out
    u = torch.linspace(0.0, 1.0, samples + 1, device=ndc_origins.device)  # uniform_edges, no jitter
    grid = (triton.cdiv(n, RAYS_PER_PROGRAM),)
    _coarse_edges_kernel[grid](ndc_origins.float().contiguous(), ndc_dirs.float().contiguous(),
                               density.float().contiguous(), u, lo.float().contiguous(), hi.float().contiguous(),
                               out, n, float(uniform_fraction), BINS=bins, R=density.shape[0], SAMPLES=samples,
                               BLOCK=RAYS_PER_PROGRAM)
    return out
