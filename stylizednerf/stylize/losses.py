"""Losses of the stylized NeRF and of the decoder fine-tuning (METHOD.md section 5).

* L_mimic: MSE between a rendering and the other side's stylization of the same view.
* L_co: the decoder's stylized view i, lifted to 3D with the NeRF depth and splatted into view
  j with a z-buffer (``stylizednerf.warp.splat_correspondence``, the geometry of ``forward_splat``),
  compared with the stylized view j by MSE over the pixels that are in view and not occluded.
"""

import torch

from stylizednerf.warp import POINT_TOLERANCE, gather_splat, masked_mse, splat_correspondence


def mimic_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((prediction.float() - target.float()) ** 2)


def consistency_loss(images: torch.Tensor, depths: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor,
                     pairs: torch.Tensor, point_tolerance: float = POINT_TOLERANCE) -> tuple[torch.Tensor, torch.Tensor]:
    """L_co over view pairs: ``(loss, mask)``.

    ``images`` (B, H, W, 3) channel-last stylized views, ``depths`` (B, H, W) NeRF z-depth,
    ``K`` (B, 3, 3), ``c2w`` (B, 4, 4), ``pairs`` (P, 2) indices (i, j) into the batch: view i is
    splatted into view j. The loss is the masked MSE pooled over all pairs; gradients reach both
    the splatted view i and the target view j. ``mask`` (P, H, W) says which pixels counted.
    """
    i, j = pairs[:, 0], pairs[:, 1]
    source, mask = splat_correspondence(depths[i], K[i], c2w[i], depths[j], K[j], c2w[j], point_tolerance,
                                        images.dtype, device=images.device)
    return consistency_loss_cached(images, pairs, source, mask)


def consistency_loss_cached(images: torch.Tensor, pairs: torch.Tensor, source: torch.Tensor,
                            mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L_co from each pair's splat geometry (``stylizednerf.warp.splat_correspondence``: ``source``
    (P, H * W), ``mask`` (P, H, W)). With frozen depth the splat of view i into view j never
    changes, so the stylizer computes it once per view pair; only the colours move."""
    i, j = pairs[:, 0], pairs[:, 1]
    warped = gather_splat(images[i], source, mask)
    return masked_mse(warped, images[j].to(warped.dtype), mask), mask


def neighbour_pairs(c2w: torch.Tensor, k: int) -> torch.Tensor:
    """(V, k) indices of each view's k nearest other views (camera centres, then viewing axis).

    L_co needs view pairs that overlap; nearby cameras looking the same way overlap most.
    """
    centres = c2w[:, :3, 3]
    axes = c2w[:, :3, 2]
    distance = torch.cdist(centres, centres)
    scale = distance.max().clamp_min(1e-8)
    # a view looking away costs as much as the farthest camera: favour views that see the same things
    score = distance / scale + (1.0 - axes @ axes.T)
    score.fill_diagonal_(float("inf"))
    k = min(k, c2w.shape[0] - 1)
    return score.topk(k, largest=False).indices
