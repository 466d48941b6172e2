"""The Triton weights kernel against ``render_weights`` and ``expected_parameter``.

Runs where the kernel can: CUDA with Triton, or Triton's CPU interpreter (``TRITON_INTERPRET=1``
set before the test session starts, Triton installed)."""

import pytest
import torch

from stylizednerf.nerf import hash_kernel, weights_kernel
from stylizednerf.nerf.rendering import expected_parameter, render_weights


def test_kernel_matches_the_eager_weights_and_expectation():
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not hash_kernel.available(torch.empty(0, device=device)):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    torch.manual_seed(0)
    rays, samples = 37, 12  # neither a multiple of the block nor a power of two
    sigma = torch.rand(rays, samples, device=device) * 40.0 * (torch.rand(rays, samples, device=device) > 0.5)
    sigma[0] = 0.0  # an empty ray: its expectation falls back to the last midpoint
    sigma[1, 4] = 1e6  # an opaque sample: nothing behind it, no NaN
    edges = torch.sort(torch.rand(rays, samples + 1, device=device), dim=-1).values
    deltas = (edges[:, 1:] - edges[:, :-1]) * 1.3
    with torch.no_grad():
        fused = weights_kernel.weights_or_none(sigma, deltas, edges)
        eager = render_weights(sigma, deltas)
        expected = expected_parameter(eager, edges)
    assert not weights_kernel._failed and fused is not None
    weights, s = fused
    assert weights.shape == (rays, samples) and s.shape == (rays,)
    assert torch.isfinite(weights).all() and weights[1, 5:].abs().max() == 0.0
    assert (weights - eager).abs().max().item() < 1e-5
    assert (s - expected).abs().max().item() < 1e-5
    assert s[0] == 0.5 * (edges[0, -1] + edges[0, -2])
    assert eager.sum(-1).std() > 0.05  # opacities vary: the comparison has teeth
