"""Pixel pairs of neighbouring views (stylize/view_pairs.py) and the 3D consistency term."""

import numpy as np
import pytest
import torch

from stylizednerf.stylize.view_pairs import (ViewPairs, draw_pair_pixels, neighbour_view_pairs, pair_mse,
                                             pair_pixels)
from stylizednerf.warp import project_points, unproject_depth

pytestmark = pytest.mark.usefixtures("one_thread")


def _plane_views(n=3, height=12, width=16, depth=1.0, baseline=0.1, focal=20.0):
    """``n`` cameras side by side (x), all looking at a plane ``depth`` away: neighbours are
    ``focal * baseline / depth`` = 2 pixels apart."""
    K = torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]]).expand(n, 3, 3)
    c2w = torch.eye(4).repeat(n, 1, 1)
    c2w[:, 0, 3] = baseline * torch.arange(n, dtype=torch.float32)
    return torch.full((n, height, width), depth), K.contiguous(), c2w


def test_pairs_cover_each_neighbour_both_ways():
    depth, K, c2w = _plane_views()
    partners = torch.tensor([[1], [0], [1]])
    pairs = neighbour_view_pairs(depth, K, c2w, partners, 0.05)
    assert sorted(map(tuple, pairs.views.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    for row, (i, j) in enumerate(pairs.views.tolist()):
        assert pairs.slot[i, j] == row
    assert (pairs.slot >= 0).sum() == 4
    assert neighbour_view_pairs(depth, K, c2w, partners, 0.05, max_pixels=4 * 12 * 16 - 1) is None


def test_pair_pixels_see_the_same_surface_point():
    """Each counted pair: the pixel of view i, lifted with its depth and projected into view j,
    lands in the pixel of view j; on the plane that is a shift of 2 pixels along the rows."""
    depth, K, c2w = _plane_views()
    pairs = neighbour_view_pairs(depth, K, c2w, torch.tensor([[1], [0], [1]]), 0.05)
    H, W = depth.shape[1:]
    index = draw_pair_pixels(torch.Generator().manual_seed(0), pairs.views.shape[0], H, W, 2000)
    (view_i, v_i, u_i), (view_j, v_j, u_j), counted = pair_pixels(pairs, index, H, W)
    assert 0.6 < counted.float().mean() < 1.0  # a 2-pixel strip of each view is out of its partner
    assert torch.equal(v_i[counted], v_j[counted])
    assert torch.equal((u_i - u_j)[counted].abs(), torch.full_like(u_i[counted], 2))
    points = unproject_depth(depth, K, c2w)[view_i, v_i, u_i]  # (R, 3) pixel centres of view i
    uv, _ = project_points(points[:, None, None], K[view_j], c2w[view_j])
    assert torch.equal(uv[:, 0, 0, 0].floor().long()[counted], u_j[counted])
    assert torch.equal(uv[:, 0, 0, 1].floor().long()[counted], v_j[counted])
    assert torch.equal(view_j, pairs.views[index // (H * W), 1])


def test_pair_pixels_of_a_hand_made_pair():
    source = torch.tensor([[5, 0, 1, 2]], dtype=torch.int32)  # view 0's pixel winning each pixel of view 1
    mask = torch.tensor([[[True, False], [True, True]]])
    pairs = ViewPairs(torch.tensor([[-1, 0], [-1, -1]]), torch.tensor([[0, 1]]), source, mask)
    (view_i, v_i, u_i), (view_j, v_j, u_j), counted = pair_pixels(pairs, torch.tensor([0, 1, 3]), 2, 2)
    assert view_i.tolist() == [0, 0, 0] and view_j.tolist() == [1, 1, 1]
    assert (v_i * 2 + u_i).tolist() == [5, 0, 2]
    assert (v_j * 2 + u_j).tolist() == [0, 1, 3]
    assert counted.tolist() == [True, False, True]


def test_pair_mse_counts_only_counted_pairs():
    a = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    b = torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    assert pair_mse(a, b, torch.tensor([True, False, True])).item() == pytest.approx(0.09 / 6)
    assert pair_mse(a, b, torch.tensor([False, True, False])).item() == pytest.approx(1.0)
    assert pair_mse(a, b, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_draw_pair_pixels_is_seeded_and_in_range():
    first = draw_pair_pixels(torch.Generator().manual_seed(3), 4, 5, 6, 500)
    again = draw_pair_pixels(torch.Generator().manual_seed(3), 4, 5, 6, 500)
    assert torch.equal(first, again) and first.min() >= 0 and first.max() < 4 * 5 * 6
    assert len(set(first.tolist())) > 50


def _stylizer(settings, cameras):
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.field import FrozenField
    from stylizednerf.stylize.train import Stylizer
    from tests.test_stylize_training import _tiny_nerf

    torch.manual_seed(0)
    depth, K, c2w = _plane_views(n=len(cameras.cameras), height=16, width=24, depth=2.0)
    g = torch.Generator().manual_seed(0)
    from stylizednerf.stylize.train import TrainingViews

    views = TrainingViews(torch.rand(len(cameras.cameras), 16, 24, 3, generator=g), depth, K, c2w)
    return Stylizer(settings, FrozenField(_tiny_nerf(cameras)), views, VGGEncoder(), Decoder(),
                    torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.1), "cpu", seed=1)


def test_3d_consistency_term_makes_pair_renderings_agree():
    """Per-view noise targets pull each view's code (and the field) apart; the 3D consistency
    term pulls the renderings of pixel pairs back together. Same start, same steps."""
    from tests.test_stylize_training import TINY, _cameras

    cameras = _cameras(n=3)
    fixed = draw_pair_pixels(torch.Generator().manual_seed(7), 6, 16, 24, 2048)  # 3 views: all 6 ordered pairs
    results = {}
    for weight in (0.0, 20.0):
        stylizer = _stylizer({**TINY, "nerf_lr": 1e-2, "latent_lr": 5e-2, "co_3d_weight": weight,
                              "co_3d_rays": 512}, cameras)
        assert stylizer.co_cache is not None and stylizer.co_cache.views.shape[0] == 6
        stylizer.targets = torch.rand(stylizer.views.rgb.shape, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            before = stylizer._pair_consistency_loss(fixed).item()
        rows = [stylizer.nerf_step() for _ in range(40)]
        with torch.no_grad():
            results[weight] = (before, stylizer._pair_consistency_loss(fixed).item())
        assert ("co_3d" in rows[-1]) == (weight > 0)
        assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert results[0.0][0] == pytest.approx(results[20.0][0])  # same start
    assert results[20.0][1] < 0.7 * results[0.0][1], results


def test_joint_mode_has_the_3d_consistency_term():
    from stylizednerf.stylize.field import FrozenField
    from stylizednerf.stylize.joint import JointStylizer
    from stylizednerf.stylize.train import TrainingViews
    from tests.test_stylize_training import TINY, _cameras, _tiny_nerf

    cameras = _cameras(n=3)
    depth, K, c2w = _plane_views(n=3, height=16, width=24, depth=2.0)
    views = TrainingViews(torch.rand(3, 16, 24, 3, generator=torch.Generator().manual_seed(0)), depth, K, c2w)
    targets = torch.rand(2, 3, 16, 24, 3, generator=torch.Generator().manual_seed(1))
    settings = {**TINY, "joint_steps": 4, "co_3d_weight": 1.0, "co_3d_rays": 256}
    joint = JointStylizer(settings, FrozenField(_tiny_nerf(cameras)), views, targets, torch.zeros(2, 32),
                          torch.full((2, 32), 0.1), "cpu")
    assert joint.view_pairs is not None
    log = joint.run(progress=False)
    assert len(log) == 4 and all("co_3d" in row and np.isfinite(row["co_3d"]) for row in log)
    off = JointStylizer({**settings, "co_3d_weight": 0.0}, FrozenField(_tiny_nerf(cameras)), views, targets,
                        torch.zeros(2, 32), torch.full((2, 32), 0.1), "cpu")
    assert off.view_pairs is None and "co_3d" not in off.run(progress=False)[-1]
