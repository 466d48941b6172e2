"""Which pixels of neighbouring training views see the same surface point (METHOD.md section 5).

The geometry is frozen, so where view i splats into view j (``stylizednerf.warp.
splat_correspondence``: the winning pixel of view i for each pixel of view j, and whether it
counts) never changes during stylization. It is computed once for every ordered pair of
neighbouring views and used twice:

* L_co of the decoder fine-tuning (the paper): whole stylized views, splatted and compared;
* the 3D consistency term (``co_3d_weight``; a re-implementation decision, BENCHMARKS.md issue
  14): random pixel pairs of that geometry, both rendered by the stylized NeRF and compared. The
  field is view-independent, yet its renderings of one surface point from two views differ where
  the frozen weights are spread along the ray (semi-transparent fronds) and where its texture
  changes within a pixel; that is what the path's warped RMSE measures, and what L_mimic and the
  3D style term never see.
"""

from dataclasses import dataclass

import torch

from stylizednerf.warp import splat_correspondence

CO_CACHE_PIXELS = 1 << 27  # splat geometry kept for at most this many (pair, pixel)s, ~5 bytes each


@dataclass
class ViewPairs:
    """The splat geometry of ordered neighbour pairs: row ``slot[i, j]`` (-1: not a pair) of
    ``source`` (P, H*W) (the pixel of view i that wins each pixel of view j) and ``mask``
    (P, H, W) (where it counts); ``views`` (P, 2) the (i, j) of each row."""

    slot: torch.Tensor
    views: torch.Tensor
    source: torch.Tensor
    mask: torch.Tensor

    def __iter__(self):  # (slot, source, mask), as the decoder's L_co unpacks it
        return iter((self.slot, self.source, self.mask))


@torch.no_grad()
def neighbour_view_pairs(depth: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor, partners: torch.Tensor,
                         point_tolerance: float, max_pixels: int = CO_CACHE_PIXELS) -> ViewPairs | None:
    """:class:`ViewPairs` of every view and its ``partners`` (V, k), both directions, from z-depth
    ``depth`` (V, H, W), ``K`` (V, 3, 3), ``c2w`` (V, 4, 4); None past ``max_pixels``."""
    V, H, W = depth.shape
    pairs = sorted({p for a in range(V) for b in partners[a].tolist() for p in ((a, b), (b, a))})
    if not pairs or len(pairs) * H * W > max_pixels:
        return None
    sources, masks = [], []
    depth, K, c2w = depth.float(), K.float(), c2w.float()
    for start in range(0, len(pairs), 8):
        i = torch.tensor([a for a, _ in pairs[start:start + 8]], device=depth.device)
        j = torch.tensor([b for _, b in pairs[start:start + 8]], device=depth.device)
        source, mask = splat_correspondence(depth[i], K[i], c2w[i], depth[j], K[j], c2w[j], point_tolerance,
                                            torch.float32)
        sources.append(source.to(torch.int32))
        masks.append(mask)
    slot = torch.full((V, V), -1, dtype=torch.long)
    for row, (a, b) in enumerate(pairs):
        slot[a, b] = row
    return ViewPairs(slot.to(depth.device), torch.tensor(pairs, device=depth.device), torch.cat(sources),
                     torch.cat(masks))


def draw_pair_pixels(generator: torch.Generator, pairs: int, height: int, width: int, count: int) -> torch.Tensor:
    """(count,) random flat (row * H * W + pixel of view j) indices into ``pairs`` rows (CPU, from
    ``generator``). Uniform over all rows' pixels, counted or not: a fixed shape per step (a
    CUDA graph replays it); :func:`pair_pixels` says which count."""
    return torch.randint(pairs * height * width, (count,), generator=generator)


def pair_pixels(pairs: ViewPairs, index: torch.Tensor, height: int, width: int):
    """For flat indices ``index`` (R,) of :func:`draw_pair_pixels`: ``((view, row, column) of the
    pixel in view i, (view, row, column) of the pixel in view j, counted (R,) bool)``."""
    pixels = height * width
    row, target = index // pixels, index % pixels
    source = pairs.source[row, target].long()
    counted = pairs.mask.reshape(pairs.mask.shape[0], -1)[row, target]
    view_i, view_j = pairs.views[row, 0], pairs.views[row, 1]
    return ((view_i, source // width, source % width), (view_j, target // width, target % width), counted)


def pair_mse(a: torch.Tensor, b: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """Mean squared difference (over the colour channels too) of ``a`` and ``b`` (R, 3) at the
    ``counted`` (R,) pairs; 0 when none counts (no host sync: the count stays on the device)."""
    weight = counted.to(a.dtype)[:, None]
    return (weight * (a.float() - b.float()) ** 2).sum() / (3.0 * weight.sum()).clamp_min(1.0)
