"""The VAE over style statistics (METHOD.md section 4).

Input: a style's relu4_1 channel means and standard deviations (512 + 512 = 1024 values, in the
encoder's scaled units, see vgg.FEATURE_SCALE). Encoder 1024 -> 512 -> 512 -> 512 (ReLU) ->
mu, log sigma^2 (32 each); the decoder mirrors it back to 1024.

Loss: reconstruction squared error + 0.1 * KL(q(z|x) || N(0, I)). Both terms are summed over
their dimensions (1024 features, 32 latents) and averaged over the batch, i.e. the usual ELBO
scaling with a 0.1 weight on the KL term; with the MSE averaged over features instead, 0.1 * KL
would outweigh reconstruction ~30x and collapse every style onto the prior.
"""

import torch
from torch import nn

from stylizednerf.stylization2d.adain import calc_mean_std

FEATURES = 1024
LATENT = 32
HIDDEN = 512


def style_statistics(relu4_1: torch.Tensor) -> torch.Tensor:
    """(B, 512, h, w) features -> (B, 1024) = [channel means, channel stds] (float32)."""
    mean, std = calc_mean_std(relu4_1)
    return torch.cat([mean.flatten(1), std.flatten(1)], dim=1)


def _mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class StyleVAE(nn.Module):
    def __init__(self, features: int = FEATURES, hidden: int = HIDDEN, latent: int = LATENT):
        super().__init__()
        self.features, self.hidden, self.latent = features, hidden, latent
        self.encoder = _mlp([features, hidden, hidden, hidden])
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(_mlp([latent, hidden, hidden, hidden]), nn.Linear(hidden, features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + noise * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over latents, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


def vae_loss(x, reconstruction, mu, logvar, kl_weight: float = 0.1):
    """(total, reconstruction, kl): squared error summed over features, batch mean; + kl_weight * KL."""
    recon = (reconstruction - x).pow(2).sum(1).mean()
    kl = kl_divergence(mu, logvar)
    return recon + kl_weight * kl, recon, kl
