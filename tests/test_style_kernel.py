"""The Triton style kernel against the eager style module under one shared code.

Runs where the kernel can: CUDA with Triton (bf16 products, as the eager module under autocast),
or Triton's CPU interpreter (``TRITON_INTERPRET=1`` set before the session starts; float32)."""

import pytest
import torch

from stylizednerf.nerf import hash_kernel
from stylizednerf.stylize import style_kernel
from stylizednerf.stylize.style_module import StyleModule, render_samples


@pytest.mark.parametrize("layers", [4, 1])
def test_kernel_matches_the_eager_style_module(layers):
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not hash_kernel.available(torch.empty(0, device=device)):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    torch.manual_seed(0)
    module = StyleModule(feature_dim=32, latent_dim=8, hidden=64, layers=layers).to(device)
    rays, samples = 203, 12  # not a multiple of the kernel's block: the last block is partial
    features = torch.randn(rays, samples, 32, device=device)
    weights = torch.rand(rays, samples, device=device) / samples
    weights[:, :3] = 1e-5  # below the threshold: dropped
    latent = torch.randn(8, device=device)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    with torch.no_grad():
        fused = style_kernel.render_or_none(module, weights, features.to(dtype), latent, 1e-4, 0.5)
        reference = render_samples(module, weights[:, 3:], features[:, 3:], latent.expand(rays, -1),
                                   threshold=1e-4, background=None)
        reference = reference + (1.0 - weights.sum(-1, keepdim=True)) * 0.5
    assert not style_kernel._failed and fused is not None and fused.shape == (rays, 3)
    assert fused.dtype == torch.float32
    assert (fused - reference).abs().max().item() < (2e-2 if cuda else 1e-5)
    assert reference.std() > 0.02  # colours vary: the comparison has teeth


def test_kernel_is_not_used_for_per_ray_codes_or_with_gradients():
    module = StyleModule(feature_dim=32, latent_dim=8, hidden=64, layers=2)
    weights, features = torch.rand(4, 3), torch.randn(4, 3, 32)
    assert style_kernel.render_or_none(module, weights, features, torch.randn(4, 8), 1e-4, None) is None
    with torch.enable_grad():
        assert style_kernel.render_or_none(module, weights, features, torch.randn(8), 1e-4, None) is None
