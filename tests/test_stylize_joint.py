"""Joint mode: one style module for several styles, conditioned on each style's latent, and the
interpolation between styles (issue 6, optional part)."""

import json

import numpy as np
import pytest
import torch

from stylizednerf.stylize.joint import JointStylizer, interpolation_latents
from tests.test_stylize_training import _cameras, _tiny_nerf, _views

pytestmark = pytest.mark.usefixtures("one_thread")


def test_interpolation_latents_pass_through_every_style_in_order():
    mu = torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, -2.0]])
    codes = interpolation_latents(mu, 9)  # styles at frames 0, 4 and 8
    assert codes.shape == (9, 2)
    assert torch.allclose(codes[[0, 4, 8]], mu)
    assert torch.allclose(codes[2], 0.5 * (mu[0] + mu[1])) and torch.allclose(codes[6], 0.5 * (mu[1] + mu[2]))
    steps = (codes[1:] - codes[:-1]).norm(dim=-1)
    assert torch.allclose(steps[:4], steps[0].expand(4)) and torch.allclose(steps[4:], steps[4].expand(4))
    assert torch.equal(interpolation_latents(mu[:1], 3), mu[:1].expand(3, -1))
    with pytest.raises(ValueError):
        interpolation_latents(mu, 0)


def test_one_module_renders_each_style_from_its_latent():
    """Two styles with different colours: after training, each style's code renders its own
    targets better than the other style's, so the colour really follows the latent."""
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras()
    views = _views(cameras)
    targets = torch.empty(2, *views.rgb.shape)
    targets[0] = torch.tensor([0.8, 0.2, 0.2])
    targets[1] = torch.tensor([0.2, 0.3, 0.9])
    mu = torch.stack([torch.full((8,), 1.0), torch.full((8,), -1.0)])
    settings = {"rays": 256, "hidden": 16, "layers": 2, "chunk": 4096, "nerf_lr": 1e-2, "joint_steps": 60,
                "encoding_levels": 4, "encoding_log2_table": 10, "encoding_max_resolution": 64, "style_3d_weight": 0.0}
    stylizer = JointStylizer(settings, FrozenField(_tiny_nerf(cameras)), views, targets, mu,
                             torch.full((2, 8), 0.1), "cpu", seed=0)
    log = stylizer.run(progress=False)
    assert len(log) == 60 and [r["step"] for r in log] == list(range(60))
    assert np.mean([r["mimic"] for r in log[-10:]]) < 0.5 * np.mean([r["mimic"] for r in log[:10]])
    for style, other in ((0, 1), (1, 0)):
        image = stylizer.render_training_view(style, 1, stylizer.latents.mean(style))
        own = ((image - targets[style, 1]) ** 2).mean()
        swapped = ((image - targets[other, 1]) ** 2).mean()
        assert own < 0.5 * swapped, (style, float(own), float(swapped))


def test_joint_3d_style_term_moves_each_style_towards_its_image():
    """Joint mode's 3D style term: each style's renderings end nearer its own image's feature
    statistics than L_mimic alone leaves them, and it needs the encoder and the style images."""
    from stylizednerf.stylization2d.losses import style_loss
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    views = _views(cameras)
    targets = torch.full((2, *views.rgb.shape), 0.5)
    mu = torch.stack([torch.full((8,), 1.0), torch.full((8,), -1.0)])
    images = [torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)]
    images[0][:, :, ::4] = 1.0  # horizontal stripes
    images[1][:, 2, :, ::3] = 1.0  # blue vertical stripes
    encoder = VGGEncoder()
    settings = {"rays": 256, "hidden": 16, "layers": 2, "chunk": 4096, "nerf_lr": 1e-2, "joint_steps": 40,
                "encoding_levels": 4, "encoding_log2_table": 10, "encoding_max_resolution": 64,
                "style_3d_patch": 16, "style_3d_patches": 2}

    def final_style_losses(weight):
        torch.manual_seed(0)
        stylizer = JointStylizer({**settings, "style_3d_weight": weight}, FrozenField(_tiny_nerf(cameras)), views,
                                 targets, mu, torch.full((2, 8), 0.1), "cpu", seed=0, encoder=encoder,
                                 style_images=images)
        log = stylizer.run(progress=False)
        assert len(log) == 40
        out = []
        for style in range(2):
            image = stylizer.render_training_view(style, 1)[None].permute(0, 3, 1, 2)
            with torch.no_grad():
                out.append(style_loss(encoder.features(image), encoder.features(images[style])).item())
        return out

    plain, styled = final_style_losses(0.0), final_style_losses(0.05)
    assert all(b < 0.8 * a for a, b in zip(plain, styled)), (plain, styled)
    with pytest.raises(ValueError, match="3D style term"):
        JointStylizer({**settings, "style_3d_weight": 0.05}, FrozenField(_tiny_nerf(cameras)), views, targets, mu,
                      torch.full((2, 8), 0.1), "cpu")


def test_joint_stages_write_a_transition_video(tmp_path):
    from PIL import Image

    from stylizednerf.__main__ import main
    from stylizednerf.cameras import read_cameras, write_cameras
    from stylizednerf.demo.cli import write_demo_scene
    from stylizednerf.demo.styles import demo_style
    from stylizednerf.nerf.render import checkpoint_payload
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.video import read_video

    scene = tmp_path / "inputs"
    write_demo_scene(scene, {"width": 48, "height": 32, "views": 5, "supersample": 1})
    cameras = read_cameras(scene / "cameras.json")
    poses = tmp_path / "cameras.json"
    write_cameras(poses, cameras)
    model = tmp_path / "nerf" / "model.pt"
    model.parent.mkdir()
    torch.save(checkpoint_payload(_tiny_nerf(cameras, holdout_every=4)), model)
    torch.manual_seed(0)
    decoder = tmp_path / "decoder.pt"
    torch.save({"decoder": Decoder().state_dict()}, decoder)
    latents = tmp_path / "style_latents.json"
    latents.write_text(json.dumps({"strokes": {"mu": [0.5] * 32, "sigma": [0.1] * 32},
                                   "mosaic": {"mu": [-0.5] * 32, "sigma": [0.1] * 32}}))
    for name in ("strokes", "mosaic"):
        Image.fromarray(demo_style(name, 64)).save(tmp_path / f"{name}.png")
    cpu = {"device": "cpu", "seed": 0}
    views = tmp_path / "views"
    assert main(["render-views", "--model", str(model), "--cameras", str(poses), "--out", str(views),
                 "--settings", json.dumps(cpu)]) == 0

    joint = tmp_path / "joint" / "stylize"
    args = ["stylize-joint", "--views", str(views), "--model", str(model), "--latents", str(latents),
            "--styles", "strokes", "mosaic", "--style-images", str(tmp_path / "strokes.png"), str(tmp_path / "mosaic.png"),
            "--decoders", str(decoder), str(decoder), "--out", str(joint),
            "--checkpoint-dir", str(tmp_path / "joint" / "stylize_ckpt"),
            "--settings", json.dumps({**cpu, "rays": 256, "hidden": 16, "layers": 2, "chunk": 4096,
                                      "joint_steps": 6, "checkpoint_every": 2, "encoding_levels": 4, "encoding_log2_table": 10, "encoding_max_resolution": 64})]
    assert main(args) == 0
    state = torch.load(joint / "model.pt", weights_only=True)
    assert state["styles"] == ["strokes", "mosaic"] and state["latents"].shape == (2, 3, 32)
    assert len(json.loads((joint / "losses.json").read_text())["log"]) == 6
    assert Image.open(joint / "views.png").size == (96, 64)  # a row per style: target | joint NeRF
    assert not (tmp_path / "joint" / "stylize_ckpt" / "state.pt").exists()

    out = tmp_path / "joint" / "interpolation"
    assert main(["render-interpolation", "--joint", str(joint), "--model", str(model), "--cameras", str(poses),
                 "--out", str(out), "--settings", json.dumps({**cpu, "frames": 5, "fps": 5})]) == 0
    assert read_video(out / "video.mp4").shape == (5, 32, 48, 3)
    assert len(list((out / "frames").glob("*.png"))) == 5
    codes = np.load(out / "latents.npy")
    assert np.allclose(codes[0], 0.5) and np.allclose(codes[-1], -0.5) and np.allclose(codes[2], 0.0, atol=1e-6)

    # bad input: one clear line, nothing written
    with pytest.raises(SystemExit, match="one style image and one decoder per style"):
        main([*args[:11], str(tmp_path / "strokes.png"), *args[13:17], str(tmp_path / "bad"), *args[18:]])
    assert not (tmp_path / "bad").exists()
