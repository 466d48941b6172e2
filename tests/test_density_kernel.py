"""The Triton density kernel against the fast field's eager density.

Runs where the kernel can: CUDA with Triton, or Triton's CPU interpreter (``TRITON_INTERPRET=1``
set before the test session starts, Triton installed)."""

import pytest
import torch

from stylizednerf.nerf import density_kernel, hash_kernel
from stylizednerf.nerf.fields import FastField


def test_kernel_matches_the_field_density():
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not hash_kernel.available(torch.empty(0, device=device)):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    torch.manual_seed(0)
    field = FastField(log2_table=12).to(device)
    with torch.no_grad():
        field.encoding.table.uniform_(-2.0, 2.0)
        field.density_mlp[-1].bias[0] = 3.0
    x = torch.rand(1000, 3, device=device)
    cuda = device.type == "cuda"
    with torch.no_grad():  # float32 reference (the kernel: TF32 on the GPU, float32 interpreted)
        features = field.encoding(x)
        fused = density_kernel.density_or_none(field.density_mlp, features)
        eager = field.density(x)
    assert not density_kernel._failed and fused is not None and fused.shape == (1000,)
    difference = (fused.log() - eager.log()).abs()
    assert difference.max().item() < (2e-2 if cuda else 1e-4)
    assert eager.log().std() > 0.05  # densities vary: the comparison has teeth
