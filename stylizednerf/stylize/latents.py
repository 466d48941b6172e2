"""Style latents: one learned code per (style, training view), tied to the VAE posterior.

The VAE (METHOD.md section 4) gives each style a posterior N(mu_s, sigma_s^2) over a 32-d latent.
Each training view gets its own code, initialised by sampling that posterior, so the style
module can absorb the small view-to-view differences of the 2D stylizations instead of
blurring them; the prior term L_d keeps the codes near mu_s, and novel views use mu_s itself.
"""

import json
from pathlib import Path

import torch
from torch import nn

SIGMA_EPS = 1e-3  # the public code's guard against tiny posterior scales


def prior_loss(codes: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, weight: float = 0.1) -> torch.Tensor:
    """L_d = weight * sum_d (l - mu)^2 / (sigma + 1e-3), averaged over codes.

    The public code's form: a squared distance to the posterior mean, scaled by the posterior
    spread (dims the VAE is unsure about may move more). Zero at mu, growing quadratically away.
    ``codes`` (..., D), ``mu``/``sigma`` broadcastable to it.
    """
    per_code = ((codes - mu) ** 2 / (sigma + SIGMA_EPS)).sum(dim=-1)
    return weight * per_code.mean()


class StyleLatents(nn.Module):
    """Codes of shape (styles, views, D), initialised from N(mu_s, sigma_s^2)."""

    def __init__(self, mu: torch.Tensor, sigma: torch.Tensor, n_views: int, generator: torch.Generator | None = None):
        super().__init__()
        mu = torch.as_tensor(mu, dtype=torch.float32)
        mu = mu[None] if mu.dim() == 1 else mu  # one style: (D,) -> (1, D)
        sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(mu.shape)
        if (sigma < 0).any():
            raise ValueError("style latent sigma must be non-negative (a standard deviation)")
        self.register_buffer("mu", mu)
        self.register_buffer("sigma", sigma)
        noise = torch.randn(mu.shape[0], n_views, mu.shape[1], generator=generator)
        self.codes = nn.Parameter(mu[:, None] + sigma[:, None] * noise)

    @property
    def dim(self) -> int:
        return self.mu.shape[-1]

    def forward(self, views: torch.Tensor, style: int = 0) -> torch.Tensor:
        """The codes of training ``views`` (indices) for one style."""
        return self.codes[style, views]

    def mean(self, style: int = 0) -> torch.Tensor:
        """The code novel views use: the style's posterior mean."""
        return self.mu[style]

    def prior(self, weight: float = 0.1) -> torch.Tensor:
        return prior_loss(self.codes, self.mu[:, None], self.sigma[:, None], weight)


def read_style_latents(path, styles: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, sigma), each (len(styles), D), from ``style_latents.json`` ({style: {mu, sigma}})."""
    path = Path(path)
    with open(path) as f:
        table = json.load(f)
    mus, sigmas = [], []
    for style in styles:
        if style not in table:
            raise KeyError(f"{path}: no latent for style '{style}'")
        entry = table[style]
        if "mu" not in entry or "sigma" not in entry:
            raise KeyError(f"{path}: style '{style}' needs 'mu' and 'sigma'")
        mus.append(torch.as_tensor(entry["mu"], dtype=torch.float32))
        sigmas.append(torch.as_tensor(entry["sigma"], dtype=torch.float32))
    return torch.stack(mus), torch.stack(sigmas)
