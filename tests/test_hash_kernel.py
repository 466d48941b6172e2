"""The Triton hash-grid kernel against the differentiable (reference) lookup.

Runs where the kernel can: CUDA with Triton, or Triton's CPU interpreter
(``TRITON_INTERPRET=1`` set before the test session starts, Triton installed)."""

import pytest
import torch

from stylizednerf.nerf import hash_kernel
from stylizednerf.nerf.fields import HashEncoding


def _device():
    probe = torch.empty(0, device="cuda") if torch.cuda.is_available() else torch.empty(0)
    if not hash_kernel.available(probe):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    return probe.device


@pytest.mark.parametrize("log2_table", [19, 12])  # 12: most levels hashed
def test_kernel_matches_reference_lookup(log2_table):
    device = _device()
    torch.manual_seed(0)
    encoding = HashEncoding(levels=16, features=2, log2_table=log2_table, base_res=16, max_res=2048).to(device)
    with torch.no_grad():
        encoding.table.uniform_(-1.0, 1.0)
    x = torch.rand(3000, 3, device=device)
    x[:5] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [-0.1, 0.5, 1.2], [0.5, 0.5, 0.5], [1 - 1e-7, 0.0, 0.3]])
    with torch.no_grad():
        reference = encoding._forward_training(x)
        fused = hash_kernel.encode(x, encoding.table, encoding.resolution, encoding.levels, encoding.dense_levels,
                                   encoding.table_size)
        used = encoding(x)  # inference: the kernel, through the module
    assert 0 < encoding.dense_levels < encoding.levels or log2_table == 12
    assert fused.shape == reference.shape == (3000, 32)
    # the GPU build contracts x * res - floor(x * res) into an FMA: at the finest level (res 2048)
    # the fraction can differ from the rounded eager product by ~1e-4 (one ulp of x * res)
    assert (fused - reference).abs().max().item() < 2e-3
    assert (fused - reference).abs().mean().item() < 1e-4
    assert torch.equal(used, fused)
    # wrong on purpose: a permuted table must change the features (the comparison has teeth)
    with torch.no_grad():
        shuffled = hash_kernel.encode(x, encoding.table.flip(0), encoding.resolution, encoding.levels,
                                      encoding.dense_levels, encoding.table_size)
    assert (shuffled - reference).abs().max().item() > 0.1


def test_empty_input():
    device = _device()
    encoding = HashEncoding(levels=4, features=2, log2_table=10, base_res=4, max_res=32).to(device)
    out = hash_kernel.encode(torch.empty(0, 3, device=device), encoding.table, encoding.resolution, 4,
                             encoding.dense_levels, encoding.table_size)
    assert out.shape == (0, 8)


def test_a_failing_kernel_falls_back_once_with_a_note(capsys):
    import types

    module = types.SimpleNamespace(_failed=False)

    def broken():
        raise RuntimeError("illegal memory access")

    assert hash_kernel.run_or_note(module, "demo", "eager demo", lambda: 7) == 7 and not module._failed
    assert hash_kernel.run_or_note(module, "demo", "eager demo", broken) is None
    assert module._failed
    note = capsys.readouterr().err.strip()
    assert note == "note: the Triton demo kernel failed (RuntimeError: illegal memory access); eager demo"

    def out_of_memory():
        raise torch.cuda.OutOfMemoryError("no room")

    with pytest.raises(torch.cuda.OutOfMemoryError):  # not a kernel failure: the caller must see it
        hash_kernel.run_or_note(types.SimpleNamespace(_failed=False), "demo", "eager demo", out_of_memory)
