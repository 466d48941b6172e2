"""The Triton sampling kernel against the eager occupancy-guided sampler (forward scenes).

Runs where the kernel can: CUDA with Triton, or Triton's CPU interpreter (``TRITON_INTERPRET=1``
set before the test session starts, Triton installed)."""

import numpy as np
import pytest
import torch

from stylizednerf.nerf import hash_kernel


def _model(device):
    from stylizednerf.cameras import Camera, CameraSet
    from stylizednerf.nerf.model import NerfModel, resolve_config
    from stylizednerf.nerf.rays import SceneSpace

    cams = []
    for k in range(3):
        c2w = np.eye(4)
        c2w[0, 3] = 0.1 * k
        cams.append(Camera(f"{k}.png", 24, 16, 20.0, 20.0, 12.0, 8.0, c2w, 1.0, 6.0))
    cameras = CameraSet(cams, "images", "forward")
    cfg = resolve_config({"fast": {"log2_table": 10, "levels": 4, "max_resolution": 64, "hidden": 16,
                                   "grid_resolution": 16, "coarse_samples": 32, "samples": 12}})
    torch.manual_seed(0)
    model = NerfModel(SceneSpace.from_cameras(cameras), cfg).to(device)
    return model, cameras


def test_kernel_edges_match_the_eager_sampler(monkeypatch):
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if not hash_kernel.available(torch.empty(0, device=device)):
        pytest.skip("needs Triton with CUDA, or TRITON_INTERPRET=1 with Triton installed")
    from stylizednerf.stylize.rays import image_rays

    model, cameras = _model(device)
    g = torch.Generator().manual_seed(1)
    density = torch.rand(16, 16, 16, generator=g) * 200.0 * (torch.rand(16, 16, 16, generator=g) > 0.7)
    model.grid.density.copy_(density.to(device))
    cam = cameras.cameras[1]
    K = torch.tensor(cam.intrinsics, dtype=torch.float32, device=device)
    c2w = torch.tensor(cam.camera_to_world, dtype=torch.float32, device=device)
    origins, directions = image_rays(K, c2w, cam.height, cam.width)
    rays = model.space.rays(origins, directions, model.world_to_scene)
    with torch.no_grad():
        fused, _ = model.sample_edges(rays, jitter=False)
        monkeypatch.setenv("STYLIZEDNERF_NO_TRITON", "1")
        eager, _ = model.sample_edges(rays, jitter=False)
    from stylizednerf.nerf import sample_kernel

    assert not sample_kernel._failed  # the kernel ran (a failure falls back to eager, silently equal)
    direct = sample_kernel.coarse_edges(rays.ndc_origins, rays.ndc_dirs, model.grid.density, model.bbox_lo,
                                        model.bbox_hi, 32, 12, model.field_cfg["uniform_fraction"])
    assert torch.equal(direct, fused)
    assert fused.shape == eager.shape == (cam.height * cam.width, 13)
    assert (fused - eager).abs().max().item() < 1e-4
    assert (eager[:, 1:] >= eager[:, :-1]).all()
    # the histogram matters: a different grid moves the samples (the comparison has teeth)
    monkeypatch.delenv("STYLIZEDNERF_NO_TRITON")
    model.grid.density.copy_(density.flip(0).to(device))
    with torch.no_grad():
        moved, _ = model.sample_edges(rays, jitter=False)
    assert (moved - eager).abs().max().item() > 1e-2
