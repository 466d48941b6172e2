"""L_co, the decoder's multi-view consistency loss (METHOD.md 5), on scenes with exact depth.

The warp itself (forward splat, z-buffer) is tested in test_warp.py; here we test the loss the
decoder trains with: which pixels count, that consistent images give ~0, that gradients flow.
"""

import numpy as np
import pytest
import torch

from stylizednerf.stylize.losses import consistency_loss, neighbour_pairs
from stylizednerf.warp import masked_mse

PLATE_COLOUR = torch.tensor([1.0, 0.0, 0.0])


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def demo_scene(tmp_path_factory):
    """A small demo scene with exact depth (images, depth/, true cameras.json)."""
    from stylizednerf.demo.cli import write_demo_scene

    folder = tmp_path_factory.mktemp("demo") / "scene"
    write_demo_scene(folder, {"width": 80, "height": 60, "views": 5, "supersample": 2})
    return folder


def _raycast(origin, K, height, width):
    """Depth, world points and colours of a textured plane z=10 and a red plate at z=2, x in [1.8, 3]."""
    v, u = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                          indexing="ij")
    d = torch.stack([(u + 0.5 - K[0, 2]) / K[0, 0], (v + 0.5 - K[1, 2]) / K[1, 1], torch.ones_like(u)], -1)
    plate_hit = origin + 2.0 * d
    on_plate = (plate_hit[..., 0] >= 1.8) & (plate_hit[..., 0] <= 3.0) & (plate_hit[..., 1].abs() <= 1.0)
    depth = torch.where(on_plate, torch.full_like(u, 2.0), torch.full_like(u, 10.0))
    points = origin + depth[..., None] * d
    texture = torch.stack([0.5 + 0.4 * torch.sin(0.5 * points[..., 0]), 0.5 + 0.4 * torch.cos(0.4 * points[..., 1]),
                           0.5 + 0.2 * torch.sin(0.3 * (points[..., 0] + points[..., 1]))], -1)
    colour = torch.where(on_plate[..., None], PLATE_COLOUR.double().expand_as(texture), texture)
    return depth.float(), colour.float(), on_plate


def test_occluded_pixels_are_masked():
    """Camera i cannot see the plate (outside its view), camera j can: i's background behind the
    plate splats onto j's plate pixels with nothing nearer to win the z-buffer, so only the 3D
    point test can reject them."""
    H, W = 24, 32
    K = torch.tensor([[20.0, 0, 16.0], [0, 20.0, 12.0], [0, 0, 1]])
    c2w_i, c2w_j = torch.eye(4), torch.eye(4)
    c2w_j[0, 3] = 2.0
    depth_i, image_i, plate_i = _raycast(torch.zeros(3, dtype=torch.float64), K.double(), H, W)
    depth_j, image_j, plate_j = _raycast(c2w_j[:3, 3].double(), K.double(), H, W)
    assert not plate_i.any() and plate_j.sum() > 40  # the constructed occlusion
    images = torch.stack([image_i, image_j])
    depths = torch.stack([depth_i, depth_j])
    Ks, c2ws = torch.stack([K, K]), torch.stack([c2w_i, c2w_j])
    pairs = torch.tensor([[0, 1]])

    loss, mask = consistency_loss(images, depths, Ks, c2ws, pairs)
    # i's background does land on j's plate pixels (so the test is not vacuous) ...
    _, unmasked = consistency_loss(images, depths, Ks, c2ws, pairs, point_tolerance=1e9)
    assert (unmasked[0] & plate_j).sum() > 40
    # ... and the occlusion test removes every one of them
    assert not (mask[0] & plate_j).any()
    assert mask[0].sum() > 0.4 * H * W
    # what remains agrees: only nearest-pixel rounding of a smooth texture
    assert loss.sqrt().item() < 0.01
    loss_no_occlusion, _ = consistency_loss(images, depths, Ks, c2ws, pairs, point_tolerance=1e9)
    assert loss_no_occlusion.sqrt().item() > 0.1


def test_consistency_loss_reaches_both_views():
    torch.manual_seed(0)
    H, W = 12, 16
    K = torch.tensor([[15.0, 0, 8.0], [0, 15.0, 6.0], [0, 0, 1]]).expand(2, 3, 3)
    c2w = torch.eye(4).repeat(2, 1, 1)
    c2w[1, 0, 3] = 0.1
    depth = torch.full((2, H, W), 5.0)
    images = torch.rand(2, H, W, 3, requires_grad=True)
    loss, mask = consistency_loss(images, depth, K, c2w, torch.tensor([[0, 1], [1, 0]]))
    loss.backward()
    assert mask.sum() > 0 and loss.item() > 0
    assert images.grad[0].abs().sum() > 0 and images.grad[1].abs().sum() > 0


def test_neighbour_pairs_prefer_nearby_cameras_facing_the_same_way():
    c2w = torch.eye(4).repeat(4, 1, 1)
    c2w[:, 0, 3] = torch.tensor([0.0, 0.1, 0.2, 0.04])
    c2w[3, :3, :3] = torch.tensor([[-1.0, 0, 0], [0, 1, 0], [0, 0, -1]])  # close but looking backwards
    partners = neighbour_pairs(c2w, 1)
    assert partners[:, 0].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("gap", [1, 3])
def test_demo_views_agree_inside_the_mask(demo_scene, gap):
    """With exact depth, the demo's (unstylized) views splatted onto each other agree in the mask."""
    from stylizednerf.cameras import read_cameras

    cameras = read_cameras(demo_scene / "cameras.json")
    from PIL import Image

    n = len(cameras)
    images = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255)
                          for p in cameras.image_paths()[:n]])
    depths = torch.stack([torch.from_numpy(np.load(p)).float() for p in cameras.depth_paths()[:n]])
    Ks = torch.tensor(np.stack([c.intrinsics for c in cameras.cameras[:n]]), dtype=torch.float32)
    c2ws = torch.tensor(cameras.camera_to_world()[:n], dtype=torch.float32)
    pairs = torch.tensor([[i, i + gap] for i in range(n - gap)] + [[i + gap, i] for i in range(n - gap)])
    loss, mask = consistency_loss(images, depths, Ks, c2ws, pairs)
    rmse = loss.sqrt().item()
    coverage = mask.float().mean().item()
    print(f"demo gap {gap}: masked RMSE {rmse:.4f}, mask coverage {coverage:.2f}")
    assert coverage > 0.7
    # measured 0.036 (gap 1) and 0.038 (gap 3) at 80x60: what is left is the splat's
    # nearest-pixel rounding (up to half a pixel) on the demo's sharp textures
    assert rmse < 0.05
    # without the warp the same pixels disagree ~3x more (measured 0.11): the bound means something
    unwarped = masked_mse(images[pairs[:, 0]], images[pairs[:, 1]], mask).sqrt().item()
    assert unwarped > 2.5 * rmse
    # and images that are not views of the same scene do not pass (measured 0.095)
    shifted, _ = consistency_loss(images.roll(20, dims=2), depths, Ks, c2ws, pairs)
    assert shifted.sqrt().item() > 2 * rmse
