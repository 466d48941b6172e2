"""Unit tests of the stylized NeRF's parts: style module, latents/L_d, camera path, video."""

import numpy as np
import pytest
import torch

from stylizednerf.cameras import Camera, CameraSet
from stylizednerf.stylize.camera_path import average_pose, render_path
from stylizednerf.stylize.latents import StyleLatents, prior_loss
from stylizednerf.stylize.rays import image_rays
from stylizednerf.stylize.style_module import StyleModule, composite, render_samples


def test_prior_is_zero_at_mu_and_grows_away():
    mu = torch.tensor([0.5, -1.0, 2.0, 0.0])
    sigma = torch.tensor([0.1, 1.0, 0.5, 2.0])
    assert prior_loss(mu[None], mu, sigma).item() == 0.0
    direction = torch.tensor([1.0, -1.0, 0.5, 2.0])
    values = [prior_loss((mu + t * direction)[None], mu, sigma).item() for t in (0.1, 0.2, 0.4, 0.8)]
    assert all(b > a > 0 for a, b in zip(values, values[1:]))
    # quadratic: doubling the distance multiplies the loss by 4
    assert values[1] / values[0] == pytest.approx(4.0, rel=1e-5)
    # the public code's scaling: a dimension the VAE is sure about (small sigma) costs more
    one_hot = torch.eye(4)
    costs = [prior_loss((mu + 0.3 * e)[None], mu, sigma).item() for e in one_hot]
    assert costs[0] > costs[2] > costs[1] > costs[3]
    assert costs[0] == pytest.approx(0.1 * 0.09 / (0.1 + 1e-3), rel=1e-5)


def test_latents_start_from_the_posterior_and_novel_views_use_mu():
    mu, sigma = torch.randn(32), torch.full((32,), 0.2)
    latents = StyleLatents(mu, sigma, n_views=500, generator=torch.Generator().manual_seed(0))
    codes = latents.codes[0]
    assert codes.shape == (500, 32)
    assert torch.allclose(codes.mean(0), mu, atol=0.05)
    assert torch.allclose(codes.std(0), sigma, rtol=0.2)
    assert torch.equal(latents.mean(), mu)
    assert latents.prior().item() > 0
    latents.codes.data[:] = mu
    assert latents.prior().item() == 0.0


def test_style_module_uses_the_latent_and_composites_with_given_weights():
    torch.manual_seed(0)
    module = StyleModule(feature_dim=6, latent_dim=32, hidden=16, layers=3)
    features = torch.randn(5, 7, 6)
    a = module(features, torch.zeros(5, 32))
    b = module(features, torch.ones(5, 32))
    assert a.shape == (5, 7, 3)
    assert (a >= 0).all() and (a <= 1).all()
    assert (a - b).abs().max() > 1e-3  # the latent reaches the output
    # every layer sees the latent: with zero hidden weights the output still depends on z
    with torch.no_grad():
        for layer in module.hidden_layers:
            layer.weight.zero_()
        module.output.weight.zero_()
    c, d = module(features, torch.zeros(5, 32)), module(features, torch.ones(5, 32))
    assert (c - d).abs().max() > 1e-3
    weights = torch.zeros(5, 7)
    weights[:, 2] = 0.25
    weights[:, 4] = 0.5
    rgb = torch.rand(5, 7, 3)
    expected = 0.25 * rgb[:, 2] + 0.5 * rgb[:, 4]
    assert torch.allclose(composite(weights, rgb), expected)
    assert torch.allclose(composite(weights, rgb, background=1.0), expected + 0.25)


def test_sparse_rendering_matches_dense_compositing():
    torch.manual_seed(1)
    module = StyleModule(feature_dim=4, latent_dim=8, hidden=16, layers=2)
    weights = torch.rand(6, 10) * (torch.rand(6, 10) > 0.6) / 10
    features, latents = torch.randn(6, 10, 4), torch.randn(6, 8)
    dense = composite(weights, module(features, latents), background=0.5)
    sparse = render_samples(module, weights, features, latents, threshold=0.0, background=0.5)
    assert torch.allclose(dense, sparse, atol=1e-6)
    # one code shared by all rays (a rendered path): folded into the biases, the same colours
    shared = render_samples(module, weights, features, latents[2], threshold=0.0, background=0.5)
    expanded = render_samples(module, weights, features, latents[2].expand(6, -1), threshold=0.0, background=0.5)
    assert torch.allclose(shared, expanded, atol=1e-6)
    assert not torch.allclose(shared, sparse, atol=1e-3)  # a different code does change them
    # gradients reach the module through the sparse path
    sparse.sum().backward()
    assert module.output.weight.grad.abs().sum() > 0


def _forward_cameras(n=9, kind="forward"):
    cams = []
    for k in range(n):
        c2w = np.eye(4)
        c2w[:3, 3] = [0.3 * (k % 3) - 0.3, 0.2 * (k // 3) - 0.2, 0.05 * k]
        cams.append(Camera(f"{k:03d}.png", 40, 30, 35.0, 35.0, 20.0, 15.0, c2w, 2.0, 10.0))
    return CameraSet(cams, image_dir="images", scene_kind=kind)


def test_spiral_path_circles_the_average_pose_looking_forward():
    cameras = _forward_cameras()
    path = render_path(cameras, 24)
    assert len(path) == 24 and path.cameras[0].width == 40
    c2w = path.camera_to_world()
    avg = average_pose(cameras.camera_to_world())
    centres = c2w[:, :3, 3]
    # the spiral is centred on the average pose and stays within the cameras' spread
    assert np.allclose(centres.mean(0)[:2], avg[:3, 3][:2], atol=0.05)
    assert np.abs(centres[:, 0] - avg[0, 3]).max() <= 0.3 + 1e-9
    # all cameras look forward (+z) and converge on one focus point on the average axis
    assert (c2w[:, 2, 2] > 0.9).all()
    assert all(abs(np.linalg.det(m[:3, :3]) - 1) < 1e-9 for m in c2w)
    focus = avg[:3, 3] + avg[:3, 2] * 1.0 / (0.25 / 1.8 + 0.75 / 50.0)
    to_focus = focus - centres
    cos = (to_focus * c2w[:, :3, 2]).sum(1) / np.linalg.norm(to_focus, axis=1)
    assert np.allclose(cos, 1.0)
    # smooth: consecutive frames are close compared with the path's extent
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() < 0.3 * np.ptp(centres[:, 0])  # 12 frames per turn: chord ~ 0.26 x diameter
    # and it renders at another width with scaled intrinsics
    small = render_path(cameras, 4, width=20)
    assert small.cameras[0].height == 15 and small.cameras[0].fx == pytest.approx(17.5)


def test_orbit_path_circles_the_look_at_point():
    cams = []
    for k in range(8):
        angle = 2 * np.pi * k / 8
        position = np.array([3 * np.cos(angle), -0.5, 3 * np.sin(angle)])  # y down: cameras slightly above
        forward = -position / np.linalg.norm(position)
        right = np.cross([0.0, 1.0, 0.0], forward)
        right /= np.linalg.norm(right)
        c2w = np.eye(4)
        c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, np.cross(forward, right), forward, position
        cams.append(Camera(f"{k}.png", 32, 32, 30.0, 30.0, 16.0, 16.0, c2w, 1.0, 6.0))
    path = render_path(CameraSet(cams, "images", "360"), 30).camera_to_world()
    centres = path[:, :3, 3]
    assert np.allclose(np.linalg.norm(centres, axis=1), np.sqrt(9 + 0.25), atol=1e-6)
    assert np.allclose(centres[:, 1], -0.5, atol=1e-6)
    forward = path[:, :3, 2]
    assert np.allclose((forward * -centres).sum(1) / np.linalg.norm(centres, axis=1), 1.0, atol=1e-6)


def test_image_rays_follow_the_pixel_convention():
    K = torch.tensor([[10.0, 0, 2.0], [0, 10.0, 1.5], [0, 0, 1]])
    c2w = torch.eye(4)
    c2w[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    origins, directions = image_rays(K, c2w, 3, 4)
    assert torch.allclose(origins, torch.tensor([1.0, 2.0, 3.0]).expand(12, 3))
    # pixel (u=1, v=1) has centre (1.5, 1.5): x = (1.5 - 2) / 10, y = 0, z = 1
    assert torch.allclose(directions[1 * 4 + 1], torch.tensor([-0.05, 0.0, 1.0]))


def test_video_round_trip(tmp_path):
    from stylizednerf.stylize.video import read_video, write_video

    frames = [np.full((30, 40, 3), 20 * k, dtype=np.uint8) for k in range(6)]
    write_video(tmp_path / "v.mp4", frames, fps=10)
    back = read_video(tmp_path / "v.mp4")
    assert back.shape == (6, 30, 40, 3)
    assert np.abs(back.astype(int).mean(axis=(1, 2, 3)) - np.arange(6) * 20).max() < 3
    assert not list(tmp_path.glob(".*"))  # nothing half-written left behind


def test_video_page_holds_the_mp4_itself(tmp_path):
    """The page the report shows plays the very MP4 (a data URI: the report keeps results apart)."""
    import base64
    import re

    from stylizednerf.stylize.video import write_video

    frames = [np.full((16, 24, 3), 40 * k, dtype=np.uint8) for k in range(3)]
    write_video(tmp_path / "video.mp4", frames, fps=3, title="a <b> & c")
    page = (tmp_path / "video.html").read_text()
    (payload,) = re.findall(r'<video [^>]*src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(payload) == (tmp_path / "video.mp4").read_bytes()
    assert "<title>a &lt;b&gt; &amp; c</title>" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.html", "video.mp4"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the fused-epilogue path runs on CUDA only")
def test_shared_code_on_cuda_matches_the_sparse_path():
    torch.manual_seed(2)
    module = StyleModule(feature_dim=32, latent_dim=32, hidden=128, layers=4).cuda()
    features, latent = torch.randn(5000, 32, device="cuda"), torch.randn(32, device="cuda")
    ray_index = torch.arange(5000, device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        shared = module.shared(features, latent).float()
        sparse = module.sparse(features, ray_index, latent.expand(5000, -1)).float()
    assert (shared - sparse).abs().max().item() < 2e-2  # bf16 rounding of different but equal sums
    assert (shared - sparse).abs().mean().item() < 2e-3
    other = module.shared(features, latent + 1.0).float()
    assert (other - shared).abs().mean().item() > 1e-2


@pytest.mark.parametrize("geometry_features", [True, False])
def test_own_position_encoding_renders_by_position_and_learns(geometry_features):
    """A module with its own hash grid reads the samples' positions: the same features at other
    positions give other colours, the dense, sparse and shared-code paths agree, and the grid's
    tables receive gradients (they are what learns the brushwork)."""
    torch.manual_seed(2)
    encoding = {"kind": "hash", "levels": 4, "features": 2, "log2_table": 10, "base_resolution": 4,
                "max_resolution": 64}
    module = StyleModule(feature_dim=4, latent_dim=8, hidden=16, layers=2, encoding=encoding,
                         geometry_features=geometry_features)
    with torch.no_grad():
        module.encoding.table.uniform_(-1.0, 1.0)
    assert module.input_dim == (4 if geometry_features else 0) + 8 and module.needs_positions
    weights = torch.rand(6, 10) * (torch.rand(6, 10) > 0.6) / 10
    features, latents, positions = torch.randn(6, 10, 4), torch.randn(6, 8), torch.rand(6, 10, 3)
    dense = composite(weights, module(module.inputs(features, positions), latents), background=0.5)
    sparse = render_samples(module, weights, features, latents, 0.0, 0.5, positions)
    assert torch.allclose(dense, sparse, atol=1e-6)
    elsewhere = render_samples(module, weights, features, latents, 0.0, 0.5, torch.rand(6, 10, 3))
    assert not torch.allclose(sparse, elsewhere, atol=1e-3)
    with torch.no_grad():
        shared = render_samples(module, weights, features, latents[1], 0.0, 0.5, positions)
    expanded = render_samples(module, weights, features, latents[1].expand(6, -1), 0.0, 0.5, positions)
    assert torch.allclose(shared, expanded, atol=1e-6)
    sparse.sum().backward()
    assert module.encoding.table.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="positions"):
        render_samples(module, weights, features, latents, 0.0, 0.5)


def test_mimic_psnr_of_a_known_error():
    from stylizednerf.stylize.train import mimic_psnr

    target = torch.rand(2, 4, 5, 3)
    fit = mimic_psnr(target + 0.1, target)
    assert abs(fit["mimic_mse"] - 0.01) < 1e-6 and abs(fit["mimic_psnr"] - 20.0) < 1e-3
    assert mimic_psnr(target, target)["mimic_psnr"] > 100
