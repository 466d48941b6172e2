"""Adaptive instance normalisation (Huang & Belongie 2017) on (B, C, H, W) feature maps."""

import torch

EPS = 1e-5


def calc_mean_std(feat: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation over space, each (B, C, 1, 1).

    Computed in float32 even under bf16 autocast: the variance of ~10^4 values loses all its
    digits in bf16. ``eps`` keeps the std (and its gradient) finite on constant channels.
    """
    feat = feat.float()
    var, mean = torch.var_mean(feat.flatten(2), dim=2, unbiased=False)
    return mean[..., None, None], (var + eps).sqrt()[..., None, None]


def adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """sigma(s) * (c - mu(c)) / sigma(c) + mu(s), channel-wise; ``style`` may be any spatial size.

    ``style`` may also have batch size 1 (broadcast over the content batch).
    """
    c_mean, c_std = calc_mean_std(content)
    s_mean, s_std = calc_mean_std(style)
    return (content.float() - c_mean) / c_std * s_std + s_mean


def blend(content: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """Stylization strength: alpha=1 -> the AdaIN target, alpha=0 -> the content features."""
    if alpha == 1.0:
        return target
    return alpha * target + (1.0 - alpha) * content.to(target.dtype)
