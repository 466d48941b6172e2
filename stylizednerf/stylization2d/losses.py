"""AdaIN's losses on encoder features (lists relu1_1..relu4_1, see vgg.VGGEncoder.features).

The style loss S is defined once, here, for training and evaluation alike: for each layer the
squared differences of the channel means and of the channel standard deviations
(:func:`~stylizednerf.stylization2d.adain.calc_mean_std`: biased variance + eps, float32),
each averaged over channels, summed over layers. :func:`style_loss_per_image` gives S of each
image; :func:`style_loss`, the training loss, is their batch mean (reduced over the batch and
channels of each layer at once, which differs from ``style_loss_per_image(...).mean()`` only
by float rounding).
"""

import torch
import torch.nn.functional as F

from stylizednerf.stylization2d.adain import calc_mean_std


def content_loss(output_relu4_1: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the encoded decoder output and the AdaIN target at relu4_1."""
    return F.mse_loss(output_relu4_1.float(), target.float())


def _squared_stat_errors(output_feats: list[torch.Tensor], style_feats: list[torch.Tensor]):
    """Per layer: (squared error of channel means, of channel stds), each (B, C, 1, 1).

    The style batch may be 1 (broadcast over the output batch)."""
    for out, sty in zip(output_feats, style_feats):
        o_mean, o_std = calc_mean_std(out)
        s_mean, s_std = calc_mean_std(sty)
        yield (F.mse_loss(o_mean, s_mean.expand_as(o_mean), reduction="none"),
               F.mse_loss(o_std, s_std.expand_as(o_std), reduction="none"))


def style_loss_per_image(output_feats: list[torch.Tensor], style_feats: list[torch.Tensor]) -> torch.Tensor:
    """The style loss S of each image of the batch, (B,): sum over layers of MSE(channel means) +
    MSE(channel stds). The evaluation's style loss."""
    total = output_feats[0].new_zeros(output_feats[0].shape[0], dtype=torch.float32)
    for mean_error, std_error in _squared_stat_errors(output_feats, style_feats):
        total = total + mean_error.flatten(1).mean(1) + std_error.flatten(1).mean(1)
    return total


def style_loss(output_feats: list[torch.Tensor], style_feats: list[torch.Tensor]) -> torch.Tensor:
    """The batch mean of :func:`style_loss_per_image`, a scalar (the training loss)."""
    total = output_feats[0].new_zeros((), dtype=torch.float32)
    for mean_error, std_error in _squared_stat_errors(output_feats, style_feats):
        total = total + mean_error.mean() + std_error.mean()
    return total
