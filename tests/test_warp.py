"""Warping (stylizednerf/warp.py) on an analytic scene with exact depth (tests/synthetic_scene.py).

Bounds were set from measured values (96x72 images, f = 80 px; identity RMSE between views
0.09-0.14): backward warp masked RMSE 0.0031-0.0034 (bilinear sampling of a smooth texture),
forward splat 0.018-0.019 (nearest-pixel rounding moves colours by up to half a pixel).
"""

import pytest
import torch

import stylizednerf  # noqa: F401
from stylizednerf.metrics.consistency import masked_rmse
from stylizednerf.warp import backward_warp, forward_splat, unproject_depth, project_points
from synthetic_scene import HEIGHT, WIDTH, camera, render, visible_in

PAIRS = [(0, 1), (0, 2), (2, 0)]


@pytest.fixture(scope="module")
def scene():
    cams = [camera(-0.2, yaw=0.03), camera(0.0), camera(0.25, 0.05, yaw=-0.05)]
    return render(cams)


def truth(scene, i, j, margin=0.0):
    """Per pixel of view j: inside view i (grown by ``margin`` px), and visible there (exact)."""
    img, dep, K, c2w = scene
    points = unproject_depth(dep[j][None].double(), K[j][None].double(), c2w[j][None].double())
    uv, z = project_points(points, K[i][None].double(), c2w[i][None].double())
    uv, z = uv[0], z[0]
    u, v = uv[..., 0], uv[..., 1]
    inside = (u >= -margin) & (u <= WIDTH + margin) & (v >= -margin) & (v <= HEIGHT + margin) & (z > 0)
    return inside, visible_in(points[0], K[i], c2w[i])


def test_project_inverts_unproject(scene):
    _, dep, K, c2w = scene
    points = unproject_depth(dep, K, c2w)
    uv, z = project_points(points, K, c2w)
    grid = torch.stack(torch.meshgrid(torch.arange(HEIGHT) + 0.5, torch.arange(WIDTH) + 0.5, indexing="ij")[::-1], -1)
    assert torch.allclose(uv, grid.expand_as(uv), atol=1e-3)
    assert torch.allclose(z, dep, rtol=1e-5)


@pytest.mark.parametrize("i,j", PAIRS)
def test_backward_warp_exact_depth_matches_target(scene, i, j):
    img, dep, K, c2w = scene
    warped, mask = backward_warp(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j])
    rmse = float(masked_rmse(warped[None], img[j][None], mask[None])[0])
    unwarped = float(masked_rmse(img[i][None], img[j][None], mask[None])[0])
    assert mask.float().mean() > 0.85
    assert rmse < 0.006, rmse
    assert unwarped > 10 * rmse  # the views really differ: the warp is what makes them agree


@pytest.mark.parametrize("i,j", PAIRS)
def test_backward_warp_masks_occlusion_and_out_of_view(scene, i, j):
    img, dep, K, c2w = scene
    inside, visible = truth(scene, i, j)
    occluded = inside & ~visible
    assert occluded.sum() > 30  # the constructed occluder really hides part of the background
    _, mask = backward_warp(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j])
    assert not mask[occluded].any()
    assert not mask[~inside].any()
    # without the depth test those pixels would pass: the mask is the occlusion test's doing
    _, loose = backward_warp(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j], depth_tolerance=1e9)
    assert loose[occluded].float().mean() > 0.9


def test_backward_warp_batched_equals_single(scene):
    img, dep, K, c2w = scene
    i, j = torch.tensor([0, 2]), torch.tensor([1, 0])
    warped, mask = backward_warp(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j])
    for b in range(2):
        w1, m1 = backward_warp(img[i[b]], dep[i[b]], K[i[b]], c2w[i[b]], dep[j[b]], K[j[b]], c2w[j[b]])
        assert torch.equal(m1, mask[b]) and torch.allclose(w1, warped[b])


@pytest.mark.parametrize("i,j", PAIRS)
def test_forward_splat_exact_depth_matches_target(scene, i, j):
    img, dep, K, c2w = scene
    warped, mask = forward_splat(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j])
    rmse = float(masked_rmse(warped[None], img[j][None], mask[None])[0])
    unwarped = float(masked_rmse(img[i][None], img[j][None], mask[None])[0])
    assert mask.float().mean() > 0.85
    assert rmse < 0.03, rmse
    assert unwarped > 3 * rmse


@pytest.mark.parametrize("i,j", PAIRS)
def test_forward_splat_masks_occlusion(scene, i, j):
    img, dep, K, c2w = scene
    inside, visible = truth(scene, i, j, margin=1.0)  # nearest-pixel rounding reaches ~1 px past the edge
    occluded = inside & ~visible
    _, mask = forward_splat(img[i], dep[i], K[i], c2w[i], dep[j], K[j], c2w[j])
    assert not mask[occluded].any()
    assert not mask[~inside].any()


def test_forward_splat_zbuffer_keeps_nearest_and_passes_gradients():
    # two source pixels land on the same target pixel; the nearer one must win
    K = torch.tensor([[4.0, 0, 2], [0, 4.0, 2], [0, 0, 1]])
    eye = torch.eye(4)
    image = torch.zeros(4, 4, 3, requires_grad=True)
    depth_i = torch.full((4, 4), 2.0)
    depth_i[1, 1] = 1.0  # pixel (1,1) nearer: projects to the same target pixel when viewed from i itself
    with torch.no_grad():
        image[1, 1] = torch.tensor([1.0, 0, 0])
    depth_j = depth_i.clone()
    warped, mask = forward_splat(image, depth_i, K, eye, depth_j, K, eye)
    assert mask.all()  # identity camera: every pixel maps to itself
    assert torch.allclose(warped, image)
    warped.sum().backward()
    assert torch.equal(image.grad, torch.ones_like(image))
    # now view j moves so that the near pixel (1,1) covers a background pixel: z-buffer picks it
    c2w_j = torch.eye(4)
    c2w_j[0, 3] = 0.25  # 0.25 m to the right: far pixels shift 0.5 px, the near one 1 px
    image2 = torch.rand(4, 4, 3)
    warped2, _ = forward_splat(image2, depth_i, K, eye, torch.full((4, 4), 1.0), K, c2w_j)
    assert torch.allclose(warped2[1, 0], image2[1, 1])
