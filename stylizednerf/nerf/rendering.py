"""Volume rendering: weights from densities, compositing, expected values.

Samples are intervals ``[edges[i], edges[i+1]]`` of the sampling parameter s with length
``deltas[i]`` (in the units the density is integrated over) and density ``sigma[i]``:

    alpha_i = 1 - exp(-sigma_i delta_i),  T_i = exp(-sum_{j<i} sigma_j delta_j),  w_i = T_i alpha_i.

The weights sum to the ray's opacity ``1 - T_n <= 1``; the rest (transmittance) goes to the
background colour.
"""

import torch


def render_weights(sigma: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Weights (B, n) from densities and interval lengths (B, n); computed in float32."""
    tau = sigma.float() * deltas.float()
    alpha = 1.0 - torch.exp(-tau)
    # exclusive cumulative sum (transmittance before entering interval i), shifted rather than
    # cumsum - tau: that difference cancels catastrophically after a dense sample (weights summing
    # above 1) and is inf - inf = NaN after an infinite one
    before = torch.cat([torch.zeros_like(tau[..., :1]), torch.cumsum(tau[..., :-1], dim=-1)], -1)
    trans = torch.exp(-before)
    return trans * alpha


def composite(weights: torch.Tensor, values: torch.Tensor, background: float | torch.Tensor = 0.0) -> torch.Tensor:
    """sum_i w_i v_i (B, C) plus the leftover transmittance times ``background``."""
    out = (weights[..., None] * values.float()).sum(-2)
    return out + (1.0 - weights.sum(-1, keepdim=True)) * background


def expected_parameter(weights: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Weight-normalised mean of the interval midpoints (B,): where the ray's mass sits.

    Normalising by the opacity keeps the depth of a half-transparent ray on its surface instead
    of pulling it towards the camera.
    """
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    acc = weights.sum(-1)
    mean = (weights * mids).sum(-1) / acc.clamp_min(1e-6)
    return torch.where(acc > 1e-6, mean, mids[:, -1])


def median_value(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Per ray (B,), the value (B, S) of the first sample at which the weights (B, S), normalised by
    the ray's opacity, accumulate to one half: the median of the ray's mass, e.g. its median depth.
    Rays without mass (opacity <= 1e-6) take their last sample's value, as
    :func:`expected_parameter` does.

    Where the weights spread along a ray (semi-transparent fronds), the median and the expected
    (mean) depth differ: warping frames with one and then the other separates consistency that a
    stylization has from consistency it gets by attaching colour to the warp's own depth."""
    acc = weights.sum(-1, keepdim=True)
    reached = torch.cumsum(weights, -1) >= 0.5 * acc
    index = reached.to(torch.int8).argmax(-1, keepdim=True)  # the first True
    median = values.gather(-1, index)[..., 0]
    return torch.where(acc[..., 0] > 1e-6, median, values[..., -1])


def distortion_loss(weights: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360's distortion loss (mean over rays), in the sampling parameter s:

        sum_ij w_i w_j |m_i - m_j| + 1/3 sum_i w_i^2 (s_{i+1} - s_i)

    small when each ray's weight sits in one short interval (no floaters, opacity concentrated on
    the surface). The pairwise term in O(n) with sorted midpoints:
    sum_ij = 2 sum_i w_i (m_i W_<i - (wm)_<i) with exclusive prefix sums.
    """
    w = weights.float()
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1]).float()
    widths = (edges[:, 1:] - edges[:, :-1]).float()
    wm = w * mids
    w_before = torch.cumsum(w, -1) - w
    wm_before = torch.cumsum(wm, -1) - wm
    pairwise = 2.0 * (w * (mids * w_before - wm_before)).sum(-1)
    self_term = (w * w * widths).sum(-1) / 3.0
    return (pairwise + self_term).mean()
