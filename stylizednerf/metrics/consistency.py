"""Multi-view consistency of a rendered sequence, plus style and content losses (METHOD.md 7).

Consistency, for every gap g and every pair of frames (i, j = i + g): warp frame i into view j
with the pre-trained NeRF's z-depth and the known cameras (:func:`stylizednerf.warp.backward_warp`,
masking pixels outside view i and pixels occluded in it), then

* masked RMSE on [0, 1] images: sqrt(mean over valid pixels and channels of (warp - frame_j)^2);
* masked LPIPS: LPIPS(alex)'s per-pixel map (``spatial=True``) of the two images with invalid
  pixels set to 0 in both (so content outside the mask cannot leak into the comparison through
  AlexNet's receptive fields), averaged over the valid pixels.

A pair with no valid pixel gets NaN and is left out of the per-gap means (its count is kept).

Style fidelity: the AdaIN style loss S between each frame and the style image, the training's
own definition (:func:`stylizednerf.stylization2d.losses.style_loss_per_image`: sum over
relu1_1 .. relu4_1 of the MSE between channel means plus the MSE between channel standard
deviations); content preservation: the MSE between relu4_1 features of the frame and of the
unstylized frame. Both take any encoder with ``features(rgb (B,3,H,W) in [0,1]) -> [relu1_1, ..,
relu4_1]``, the frozen VGG-19 of :mod:`stylizednerf.stylization2d.vgg` in the pipeline.
"""

import math

import numpy as np
import torch

from stylizednerf.stylization2d.losses import style_loss_per_image
from stylizednerf.warp import DEPTH_TOLERANCE, backward_warp


def pair_indices(n_frames: int, gap: int, max_pairs: int | None = None) -> list[int]:
    """First frames i of the pairs (i, i + gap); evenly subsampled to ``max_pairs`` if given."""
    starts = list(range(max(n_frames - gap, 0)))
    if max_pairs and len(starts) > max_pairs:
        starts = sorted({starts[round(k)] for k in np.linspace(0, len(starts) - 1, max_pairs)})
    return starts


def masked_rmse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image RMSE over masked pixels: a, b (B, H, W, C), mask (B, H, W) -> (B,), NaN if empty."""
    weight = mask.unsqueeze(-1).to(a.dtype)
    count = weight.sum(dim=(1, 2, 3)) * a.shape[-1]
    mse = ((a - b) ** 2 * weight).sum(dim=(1, 2, 3)) / count.clamp_min(1.0)
    return torch.where(count > 0, mse.sqrt(), torch.full_like(mse, float("nan")))


def masked_lpips(lpips_model, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image LPIPS map averaged over the mask: a, b (B, H, W, 3) in [0, 1] -> (B,), NaN if empty."""
    weight = mask.unsqueeze(1).to(a.dtype)  # (B, 1, H, W)
    x = a.permute(0, 3, 1, 2) * weight * 2 - 1
    y = b.permute(0, 3, 1, 2) * weight * 2 - 1
    distance_map = lpips_model(x, y)  # (B, 1, H, W)
    count = weight.sum(dim=(1, 2, 3))
    value = (distance_map * weight).sum(dim=(1, 2, 3)) / count.clamp_min(1.0)
    return torch.where(count > 0, value, torch.full_like(value, float("nan")))


@torch.no_grad()
def warp_pairs(frames, depth, K, c2w, starts, gap, depth_tolerance=DEPTH_TOLERANCE):
    """(warped frame i in view j, frame j, mask) for the pairs (i, i + gap), i in ``starts``."""
    i = torch.as_tensor(starts, dtype=torch.long, device=frames.device)
    j = i + gap
    warped, mask = backward_warp(frames[i], depth[i], K[i], c2w[i], depth[j], K[j], c2w[j], depth_tolerance)
    return warped, frames[j], mask


@torch.no_grad()
def consistency(frames, depth, K, c2w, gaps=(1, 7), lpips_model=None, depth_tolerance=DEPTH_TOLERANCE,
                batch_size: int = 8, max_pairs: int | None = None, progress=None) -> dict:
    """Warped RMSE / LPIPS of a sequence. frames (N, H, W, 3) in [0, 1], depth (N, H, W) z-depth,
    K (N, 3, 3), c2w (N, 4, 4). Returns ``{"pairs": [...], "per_gap": {gap: {...}}}``.

    Each pair row: gap, i, j, rmse, lpips (None without a model), valid_fraction.
    """
    frames = frames.float()
    depth = depth.to(frames)
    K, c2w = K.to(frames), c2w.to(frames)
    rows = []
    for gap in gaps:
        starts = pair_indices(frames.shape[0], gap, max_pairs)
        for k in range(0, len(starts), batch_size):
            chunk = starts[k:k + batch_size]
            warped, target, mask = warp_pairs(frames, depth, K, c2w, chunk, gap, depth_tolerance)
            rmse = masked_rmse(warped, target, mask)
            lp = masked_lpips(lpips_model, warped, target, mask) if lpips_model is not None else None
            valid = mask.float().mean(dim=(1, 2))
            for n, i in enumerate(chunk):
                rows.append({"gap": int(gap), "i": int(i), "j": int(i + gap), "rmse": _num(rmse[n]),
                             "lpips": _num(lp[n]) if lp is not None else None,
                             "valid_fraction": float(valid[n])})
            if progress is not None:
                progress.update(len(chunk))
    return {"pairs": rows, "per_gap": summarise_pairs(rows, gaps)}


def summarise_pairs(rows, gaps) -> dict:
    per_gap = {}
    for gap in gaps:
        sel = [r for r in rows if r["gap"] == gap]
        summary = {"pairs": len(sel)}
        for key in ("rmse", "lpips", "valid_fraction"):
            values = [r[key] for r in sel if r[key] is not None and not math.isnan(r[key])]
            summary[key] = float(np.mean(values)) if values else None
            if key != "valid_fraction":
                summary[f"{key}_pairs_used"] = len(values)
        per_gap[str(gap)] = summary
    return per_gap


def _num(x: torch.Tensor) -> float:
    return float(x)


# ---- style and content (AdaIN losses on the frozen VGG encoder) ------------------------------

def content_loss(encoder, frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """relu4_1 MSE per frame between frames and the unstylized frames, (B, 3, H, W) in [0, 1] -> (B,)."""
    a = encoder.features(frames)[-1].float()
    b = encoder.features(reference)[-1].float()
    return ((a - b) ** 2).flatten(1).mean(dim=1)


@torch.no_grad()
def style_content(encoder, frames, style=None, reference=None, batch_size: int = 4) -> dict:
    """Per-frame and mean style/content losses; frames/reference (N, H, W, 3), style (Hs, Ws, 3), in [0, 1]."""
    out = {}
    style_values, content_values = [], []
    style_feats = encoder.features(style.permute(2, 0, 1)[None].float()) if style is not None else None
    for k in range(0, frames.shape[0], batch_size):
        batch = frames[k:k + batch_size].permute(0, 3, 1, 2).float()
        if style_feats is not None:
            style_values += style_loss_per_image(encoder.features(batch), style_feats).tolist()
        if reference is not None:
            ref = reference[k:k + batch_size].permute(0, 3, 1, 2).float()
            content_values += content_loss(encoder, batch, ref).tolist()
    if style is not None:
        out["style_loss"] = float(np.mean(style_values))
        out["style_loss_per_frame"] = style_values
    if reference is not None:
        out["content_loss"] = float(np.mean(content_values))
        out["content_loss_per_frame"] = content_values
    return out


def load_vgg_encoder(device="cpu"):
    """The project's frozen VGG-19 encoder (relu1_1 .. relu4_1), from :mod:`stylizednerf.stylization2d.vgg`."""
    try:
        from stylizednerf.stylization2d.vgg import VGGEncoder
    except ImportError as error:
        raise SystemExit("error: style/content losses need the VGG encoder of stylizednerf.stylization2d.vgg "
                         f"({error})") from error
    return VGGEncoder().to(device)
