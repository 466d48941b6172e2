"""Where to put samples along rays, in the sampling parameter s in [0, 1] (see rays.py).

Samples are intervals given by sorted ``edges`` (B, n + 1) that cover [0, 1]; points are their
midpoints. Shapes are static (fixed sample counts), so the training step can be compiled and
captured as a CUDA graph.

* :func:`uniform_edges`: stratified (jittered in training, exact at render time).
* :func:`pdf_edges`: inverse-CDF resampling of a histogram (importance sampling).
* :class:`DensityGrid`: Instant-NGP-style occupancy grid holding a running max of the field's
  density over model space; its trilinear density along many cheap uniform samples gives the
  histogram that the field's few samples are drawn from ("occupancy-guided" sampling).
"""

import torch
import torch.nn.functional as F
from torch import nn

MAX_GRID_DENSITY = 1e6


def uniform_edges(batch: int, n: int, device, jitter: bool) -> torch.Tensor:
    edges = torch.linspace(0.0, 1.0, n + 1, device=device).expand(batch, n + 1)
    if jitter:
        # move interior edges by up to half a bin: still sorted, still covering [0, 1]
        noise = (torch.rand(batch, n - 1, device=device) - 0.5) / n
        edges = torch.cat([edges[:, :1], edges[:, 1:-1] + noise, edges[:, -1:]], -1)
    return edges


def pdf_edges(edges: torch.Tensor, weights: torch.Tensor, n: int, jitter: bool,
              uniform_fraction: float = 0.0) -> torch.Tensor:
    """n + 1 sorted edges drawn by inverse CDF from the histogram ``weights`` over ``edges``.

    ``uniform_fraction`` of the mass is spread uniformly over the ray so that no region is ever
    left without samples (the histogram may lag behind the field).
    """
    weights = weights.float().detach() + 1e-6
    pdf = weights / weights.sum(-1, keepdim=True)
    widths = edges[:, 1:] - edges[:, :-1]
    pdf = (1.0 - uniform_fraction) * pdf + uniform_fraction * widths / widths.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    cdf = cdf / cdf[:, -1:]
    u = uniform_edges(edges.shape[0], n, edges.device, jitter).contiguous()
    idx = torch.searchsorted(cdf.contiguous(), u, right=True)
    below = (idx - 1).clamp(0, edges.shape[1] - 1)
    above = idx.clamp(0, edges.shape[1] - 1)
    cdf_b, cdf_a = cdf.gather(1, below), cdf.gather(1, above)
    e_b, e_a = edges.gather(1, below), edges.gather(1, above)
    denom = torch.where(cdf_a - cdf_b < 1e-8, torch.ones_like(cdf_a), cdf_a - cdf_b)
    out = e_b + (u - cdf_b) / denom * (e_a - e_b)
    return out.clamp(0.0, 1.0)


def merge_edges(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sorted union of two edge sets (NeRF's coarse + fine samples)."""
    return torch.sort(torch.cat([a, b], -1), -1).values


class DensityGrid(nn.Module):
    """Dense grid over the unit cube of the running max of the field's density (decayed)."""

    def __init__(self, resolution: int = 128, decay: float = 0.95):
        super().__init__()
        self.resolution, self.decay = resolution, decay
        self.register_buffer("density", torch.zeros(resolution, resolution, resolution))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    def query(self, x01: torch.Tensor) -> torch.Tensor:
        """Trilinear density at points in [0, 1]^3 (..., 3)."""
        shape = x01.shape[:-1]
        grid = (x01.reshape(1, -1, 1, 1, 3).float() * 2.0 - 1.0)
        # grid_sample's last coordinate axis order is (x, y, z) -> (W, H, D); density is [x, y, z]
        vol = self.density.permute(2, 1, 0)[None, None]
        out = F.grid_sample(vol, grid, mode="bilinear", align_corners=True, padding_mode="border")
        return out.reshape(shape)

    @torch.no_grad()
    def update(self, density_fn, chunk: int = 1 << 20) -> None:
        """Evaluate ``density_fn`` at one jittered point per cell; keep max(decayed old, new) in place."""
        r = self.resolution
        device = self.density.device
        idx = torch.arange(r, device=device, dtype=torch.float32)
        cells = torch.stack(torch.meshgrid(idx, idx, idx, indexing="ij"), -1).reshape(-1, 3)
        new = torch.empty(cells.shape[0], device=device)
        for start in range(0, cells.shape[0], chunk):
            c = cells[start:start + chunk]
            # grid values sit at cell corners (align_corners): sample around each corner
            x = ((c + torch.rand_like(c) - 0.5) / (r - 1)).clamp(0.0, 1.0)
            new[start:start + chunk] = density_fn(x).float()
        # one non-finite cell would poison every ray through it (inf * 0 in the interpolation)
        new = torch.nan_to_num(new, nan=0.0, posinf=MAX_GRID_DENSITY).clamp(0.0, MAX_GRID_DENSITY)
        self.density.copy_(torch.maximum(self.density * self.decay, new.reshape(r, r, r)))
        self.updates += 1
