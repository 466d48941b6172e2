"""The Triton style kernel (one shared code) against the eager style module and compositing.

Runs where the kernel can: CUDA with Triton, or Triton's CPU interpreter (``TRITON_INTERPRET=1``
set before the test session starts, Triton installed)."""

import pytest
import torch

from stylizednerf.stylize import style_kernel
from stylizednerf.stylize.style_module import StyleModule, composite_kept


@pytest.mark.parametrize("layers", [4, 1])
def test_kernel_matches_the_eager_style_module(monkeypatch, layers):
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    torch.manual_seed(0)
    module = StyleModule(feature_dim=32, latent_dim=32, hidden=128 if layers > 1 else 64, layers=layers).to(device)
    if not style_kernel.available(torch.empty(0, device=device), module):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    R, S = 70, 12  # 840 samples: 7 blocks, the last one partly empty
    g = torch.Generator().manual_seed(1)
    weights = (torch.rand(R, S, generator=g) ** 4 / 3).to(device)
    weights[:20] = 0.0  # empty rays: whole blocks skip the MLP
    features = (torch.randn(R, S, 32, generator=g)).to(device)
    latent = torch.randn(32, generator=g).to(device)
    with torch.no_grad():
        fused = style_kernel.render_or_none(module, weights, features, latent, 1e-4, 0.5)
        keep = weights > 1e-4
        ray_index, sample_index = keep.nonzero(as_tuple=True)
        # float32 reference (the kernel: TF32 on the GPU, float32 in the interpreter)
        reference = composite_kept(module, features[ray_index, sample_index], weights[ray_index, sample_index],
                                   ray_index, latent.expand(R, -1), 1.0 - weights.sum(-1), 0.5)
    assert not style_kernel._failed and fused is not None and fused.shape == (R, 3)
    assert (fused - reference).abs().max().item() < 1e-2  # TF32 products on the GPU
    assert (fused - reference).abs().mean().item() < 1e-3
    torch.testing.assert_close(fused[:20], torch.full((20, 3), 0.5, device=device))  # background only
    with torch.no_grad():
        other = style_kernel.render_or_none(module, weights, features, latent + 1.0, 1e-4, 0.5)
    assert (other - fused)[20:].abs().mean().item() > 1e-2  # the code matters
