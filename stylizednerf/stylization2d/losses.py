"""AdaIN's training losses on encoder features (lists relu1_1..relu4_1, see vgg.VGGEncoder.features)."""

import torch
import torch.nn.functional as F

from stylizednerf.stylization2d.adain import calc_mean_std


def content_loss(output_relu4_1: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the encoded decoder output and the AdaIN target at relu4_1."""
    return F.mse_loss(output_relu4_1.float(), target.float())


def style_loss(output_feats: list[torch.Tensor], style_feats: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of MSE(channel means) + MSE(channel stds); style batch may be 1 (broadcast)."""
    total = output_feats[0].new_zeros((), dtype=torch.float32)
    for out, sty in zip(output_feats, style_feats):
        o_mean, o_std = calc_mean_std(out)
        s_mean, s_std = calc_mean_std(sty)
        total = total + F.mse_loss(o_mean, s_mean.expand_as(o_mean)) + F.mse_loss(o_std, s_std.expand_as(o_std))
    return total


def style_loss_per_image(output_feats: list[torch.Tensor], style_feats: list[torch.Tensor]) -> torch.Tensor:
    """The style loss of each image of the batch separately, (B,) (for evaluation)."""
    total = 0.0
    for out, sty in zip(output_feats, style_feats):
        o_mean, o_std = calc_mean_std(out)
        s_mean, s_std = calc_mean_std(sty)
        total = total + ((o_mean - s_mean) ** 2).flatten(1).mean(1) + ((o_std - s_std) ** 2).flatten(1).mean(1)
    return total
