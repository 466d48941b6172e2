"""Surface shading (deferred shading) of the style module: the module runs once per ray at the
ray's composited surface point instead of on every kept sample (stylize.shading: surface).

The formula against a hand computation, the property it is for (two rays with the same surface
point get the same colour), the ray cache of composited inputs, the model file round trip, the
settings, and a training run. Volume shading (the default) is what the other stylize tests check.
"""

import numpy as np
import pytest
import torch

from stylizednerf.stylize.style_module import SURFACE_EPS, StyleModule, composite, render_samples
from test_stylize_training import TINY, _cameras, _tiny_nerf, _views, assert_trains_alike

pytestmark = pytest.mark.usefixtures("one_thread")

ENCODING = {"kind": "hash", "levels": 4, "features": 2, "log2_table": 10, "base_resolution": 4, "max_resolution": 64}


def _module(shading, encoding=None, geometry_features=True, seed=0):
    torch.manual_seed(seed)
    module = StyleModule(feature_dim=4, latent_dim=8, hidden=16, layers=2, encoding=encoding,
                         geometry_features=geometry_features, shading=shading)
    if module.encoding is not None:
        with torch.no_grad():  # a trained-looking grid: positions change the colour
            module.encoding.table.uniform_(-1.0, 1.0)
    return module


def _by_hand(module, weights, features, positions, latents, threshold, background):
    """The deferred-shading formula, ray by ray and sample by sample."""
    out = []
    for r in range(weights.shape[0]):
        kept = [i for i in range(weights.shape[1]) if weights[r, i] > threshold]
        acc = sum(float(weights[r, i]) for i in kept)
        f_bar = sum((weights[r, i] * features[r, i] for i in kept), torch.zeros(features.shape[-1]))
        x_bar = sum((weights[r, i] * positions[r, i] for i in kept), torch.zeros(3))
        f_bar, x_bar = f_bar / max(acc, SURFACE_EPS), x_bar / max(acc, SURFACE_EPS)
        parts = [f_bar] if module.geometry_features else []
        if module.encoding is not None:
            parts.append(module.encoding(x_bar[None])[0])
        rgb = module(torch.cat(parts)[None, None], latents[r][None])[0, 0]
        colour = acc * rgb
        if background is not None:
            colour = colour + (1.0 - float(weights[r].sum())) * background
        out.append(colour)
    return torch.stack(out)


@pytest.mark.parametrize("encoding, geometry_features", [(None, True), (ENCODING, True), (ENCODING, False)])
@pytest.mark.parametrize("background", [None, 0.5])
def test_surface_shading_is_the_composited_point_formula(encoding, geometry_features, background):
    module = _module("surface", encoding, geometry_features)
    assert module.surface and module.shading == "surface"
    g = torch.Generator().manual_seed(1)
    threshold = 0.02  # high, so that what it drops shows
    weights = torch.rand(5, 6, generator=g) * (torch.rand(5, 6, generator=g) > 0.3) / 6
    weights[0, 2] = 0.75 * threshold  # below the threshold: not in the surface point ...
    features = torch.randn(5, 6, 4, generator=g)
    features[0, 2] = 50.0  # ... though it would move it far
    positions = torch.rand(5, 6, 3, generator=g)
    positions[0, 2] = torch.tensor([0.95, 0.02, 0.9])
    weights[4] = 0.0  # an empty ray: background only
    latents = torch.randn(5, 8, generator=g)
    with torch.no_grad():
        rgb = render_samples(module, weights, features, latents, threshold, background, positions)
        expected = _by_hand(module, weights, features, positions, latents, threshold, background)
        assert rgb.shape == (5, 3)
        torch.testing.assert_close(rgb, expected, atol=2e-6, rtol=1e-5)
        assert torch.equal(rgb[4], torch.zeros(3) if background is None else torch.full((3,), background))
        # the below-threshold sample is what it is: counting it (threshold 0) changes ray 0's colour
        counted = render_samples(module, weights, features, latents, 0.0, background, positions)
        assert (counted[0] - rgb[0]).abs().max() > 1e-3
        # and the same module run on every sample (volume shading) gives other colours
        volume = _module("volume", encoding, geometry_features)
        volume.load_state_dict(module.state_dict())
        per_sample = render_samples(volume, weights, features, latents, threshold, background, positions)
        assert (per_sample[:4] - rgb[:4]).abs().max() > 1e-3
        # one code shared by all rays: the same colours as that code per ray
        shared = render_samples(module, weights, features, latents[3], threshold, background, positions)
        expanded = render_samples(module, weights, features, latents[3].expand(5, -1), threshold, background,
                                  positions)
        torch.testing.assert_close(shared, expanded, atol=1e-6, rtol=0)
    # it trains: gradients reach the MLP (and the own grid), never the frozen inputs
    features.requires_grad_(True)
    render_samples(module, weights, features, latents, threshold, background, positions).sum().backward()
    assert module.output.weight.grad.abs().sum() > 0 and features.grad is None
    if encoding is not None:
        assert module.encoding.table.grad.abs().sum() > 0
        with pytest.raises(ValueError, match="positions"):
            render_samples(module, weights, features, latents, threshold, background)


def test_unknown_shading_is_refused():
    with pytest.raises(ValueError, match="shading 'flat'"):
        StyleModule(feature_dim=4, shading="flat")
    assert not StyleModule(feature_dim=4).surface  # volume by default


def test_rays_with_the_same_surface_point_get_the_same_colour():
    """Two rays from different origins, whose samples lie elsewhere along other directions with
    other weights but whose weighted mean point (and opacity) is the same, get the same colour in
    surface shading under one code; volume shading colours each sample and gives two colours.
    The features are a linear function of the position, as a field's are locally."""
    g = torch.Generator().manual_seed(3)
    point = torch.tensor([0.5, 0.55, 0.5])
    offsets = torch.tensor([-1.0, 0.0, 1.0])  # symmetric around the point along each ray
    first = point + 0.3 * offsets[:, None] * torch.tensor([0.0, 0.0, 1.0])  # ray from the front
    second = point + 0.4 * offsets[:, None] * torch.nn.functional.normalize(torch.tensor([1.0, 0.2, 0.7]), dim=0)
    positions = torch.stack([first, second])  # (2, 3, 3)
    weights = torch.tensor([[0.05, 0.8, 0.05], [0.3, 0.3, 0.3]])  # symmetric, same sum 0.9
    A, b = 5.0 * torch.randn(3, 4, generator=g), torch.randn(4, generator=g)  # features that vary along the rays
    features = positions @ A + b
    latent = torch.randn(8, generator=g)
    for encoding, geometry_features in [(ENCODING, True), (ENCODING, False), (None, True)]:
        surface = _module("surface", encoding, geometry_features, seed=5)
        volume = _module("volume", encoding, geometry_features, seed=5)
        volume.load_state_dict(surface.state_dict())
        with torch.no_grad():
            a, b_ = render_samples(surface, weights, features, latent, 0.0, 0.5, positions)
            torch.testing.assert_close(a, b_, atol=1e-6, rtol=0)
            c, d = render_samples(volume, weights, features, latent, 0.0, 0.5, positions)
        assert (c - d).abs().max() > 1e-3, encoding
    # the property needs the same point: moving one ray's samples changes its colour
    moved = positions.clone()
    moved[1] += 0.1
    with torch.no_grad():
        e, f = render_samples(surface, weights, moved @ A + b, latent, 0.0, 0.5, moved)
    assert (e - f).abs().max() > 1e-3


def _dense_field(cameras):
    from stylizednerf.stylize.field import FrozenField

    field = FrozenField(_tiny_nerf(cameras))
    with torch.no_grad():  # a denser random field: many samples above the threshold (as the volume cache test)
        field.model.field.encoding.table.uniform_(-3.0, 3.0)
        field.model.field.density_mlp[-1].bias[0] = 3.0
    field.model.grid.density.fill_(10.0)
    return field


@pytest.fixture(scope="module")
def encoder():
    from stylizednerf.stylization2d.vgg import VGGEncoder

    return VGGEncoder()


@pytest.mark.parametrize("encoding, geometry_features", [("none", True), ("hash", True), ("hash", False)])
def test_surface_ray_cache_gives_the_same_renders_and_steps(encoder, encoding, geometry_features):
    """The surface-shading stylizer's ray cache holds each ray's composited inputs: its renders
    (exact and padded) and training steps equal those sampled on the spot, in a small fraction
    of the volume cache's memory."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.ray_cache import RayGeometryCache, SurfaceRayCache
    from stylizednerf.stylize.train import Stylizer

    cameras = _cameras(n=3)
    field = _dense_field(cameras)
    args = (field, _views(cameras), encoder, Decoder(), torch.rand(1, 3, 32, 32), torch.zeros(32),
            torch.full((32,), 0.1), "cpu")
    settings = {**TINY, "background": 0.5, "chunk": 100, "encoding": encoding, "geometry_features": geometry_features,
                "shading": "surface"}
    cached = Stylizer(settings, *args, seed=3)
    direct = Stylizer({**settings, "ray_cache_bytes": 0}, *args, seed=3)
    cache = cached.ray_cache
    assert isinstance(cache, SurfaceRayCache) and direct.ray_cache is None
    assert cached.style_module.surface and cache.samples_per_ray == 1.0
    rays = 3 * 16 * 24
    assert cache.features.shape == (rays, 4 * 2 if geometry_features else 0)  # the NeRF's 4 levels x 2 features
    assert (cache.positions is not None) == (encoding == "hash")
    assert cache.opacity.shape == cache.leftover.shape == (rays,) and (cache.opacity > 0.5).any()
    direct.style_module.load_state_dict(cached.style_module.state_dict())
    direct.latents.load_state_dict(cached.latents.state_dict())
    torch.testing.assert_close(cached.render_training_views(), direct.render_training_views(), atol=1e-6, rtol=0)
    # the cached rows against the rays rendered on the spot (StyleField.render_rays -> render_samples)
    pick = torch.randint(rays, (200,), generator=torch.Generator().manual_seed(5))
    latents = torch.randn(200, 32)
    view, pixel = pick // (16 * 24), pick % (16 * 24)
    from stylizednerf.stylize.rays import pixel_rays

    v = cached.views
    origins, directions = pixel_rays(v.K[view], v.c2w[view], pixel % 24, pixel // 24)
    with torch.no_grad():
        on_the_spot = cached.field.render_rays(origins, directions, latents)
        exact = cache.render(cached.style_module, pick, latents, 0.5)
        padded = cache.render_padded(cached.style_module, pick, latents, 0.5)
    torch.testing.assert_close(exact, on_the_spot, atol=1e-6, rtol=0)
    torch.testing.assert_close(padded, on_the_spot, atol=1e-6, rtol=0)
    assert_trains_alike(cached, direct)
    fresh = Stylizer(settings, *args, seed=4)  # an untrained module renders otherwise: the comparisons have teeth
    assert (fresh.render_training_views() - cached.render_training_views()).abs().max() > 1e-3
    # memory: one row per ray, against the volume cache's kept samples
    volume = RayGeometryCache.build(field, v.K, v.c2w, 16, 24, 1e-4, 100, 1 << 30, positions=encoding == "hash")
    assert volume.samples_per_ray > 4  # this tiny field keeps ~4.6 samples a ray (fern: ~39)
    assert cache.nbytes * 3 < volume.nbytes
    per_ray = 4 * (8 * geometry_features + 3 * (encoding == "hash") + 2)
    assert cache.nbytes == rays * per_ray
    assert SurfaceRayCache.build(field, v.K, v.c2w, 16, 24, 1e-4, 100, rays * per_ray - 1,
                                 features=geometry_features, positions=encoding == "hash") is None
    assert Stylizer({**settings, "ray_cache_bytes": rays * per_ray - 1}, *args).ray_cache is None


def test_model_file_keeps_the_shading_and_renders_the_same(tmp_path):
    """StyleField.export -> model file -> load_style_module: the surface shading comes back and the
    render stage's renderer draws the trainer's colours; a file without the key (written before
    it existed) is volume shading."""
    from stylizednerf.stylize.renderer import StyleRenderer, load_style_module
    from stylizednerf.stylize.style_field import StyleField
    from stylizednerf.stylize.train import resolve_settings

    cameras = _cameras(n=2)
    field = _dense_field(cameras)
    settings = resolve_settings({**TINY, "shading": "surface", "background": 0.5})
    torch.manual_seed(0)
    style = StyleField(field, _views(cameras), settings, 8, "cpu")
    with torch.no_grad():
        style.module.encoding.table.uniform_(-1.0, 1.0)
    state = style.export()
    assert state["shading"] == "surface"
    torch.save(state, tmp_path / "model.pt")
    loaded = load_style_module(torch.load(tmp_path / "model.pt", weights_only=True))
    assert loaded.surface and loaded.shading == "surface"
    cam = cameras.cameras[1]
    latent = torch.randn(8, generator=torch.Generator().manual_seed(2))
    K, c2w = torch.tensor(cam.intrinsics, dtype=torch.float32), torch.tensor(cam.camera_to_world, dtype=torch.float32)
    trained, _ = style.render_image(K, c2w, cam.height, cam.width, latent)
    rendered, _ = StyleRenderer(field, loaded, state, 100, "cpu").render(cam, latent)
    torch.testing.assert_close(rendered, trained, atol=1e-6, rtol=0)
    old = {k: v for k, v in state.items() if k != "shading"}
    volume = load_style_module(old)
    assert not volume.surface and volume.shading == "volume"
    as_volume, _ = StyleRenderer(field, volume, old, 100, "cpu").render(cam, latent)
    assert (as_volume - rendered).abs().max() > 1e-3


def test_shading_setting_reaches_stylize_joint_and_arf():
    from stylizednerf import settings as S
    from stylizednerf.config import ConfigError, check_config

    assert S.StylizeSettings().shading == "volume" and S.ArfSettings().shading == "volume"  # the paper's
    config = {"stylize": {"shading": "surface"}}
    for kind in (S.StylizeSettings, S.JointSettings, S.ArfSettings):
        chosen = kind.from_config(config)
        assert chosen.shading == "surface" and chosen.result()["shading"] == "surface"  # a result: it reruns jobs
    with pytest.raises(S.SettingsError, match="'shading' must be one of volume, surface, not 'flat'"):
        S.StylizeSettings.from_dict({"shading": "flat"})
    base = {"scenes": {"demo": {"source": "demo"}}, "styles": {"strokes": "demo"}}
    check_config({**base, **config}, S.SCHEMA_PATH)
    with pytest.raises(ConfigError, match="shading"):
        check_config({**base, "stylize": {"shading": "flat"}}, S.SCHEMA_PATH)


def test_arf_trains_a_surface_shading_appearance(encoder):
    """ARF takes the stylize section's shading: its appearance runs once per ray, and the NNFM
    step by deferred back-propagation still equals the backward of the whole view."""
    from stylizednerf.arf.deferred import deferred_backward
    from stylizednerf.arf.train import ArfTrainer
    from stylizednerf.stylize.ray_cache import SurfaceRayCache
    from test_arf import TINY as ARF_TINY

    cameras = _cameras(3, 24, 16)
    style = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(4))
    trainer = ArfTrainer({**ARF_TINY, "shading": "surface", "patch_rays": 97}, _dense_field(cameras),
                         _views(cameras), encoder, style, "cpu")
    assert trainer.module.surface and isinstance(trainer.field.ray_cache, SurfaceRayCache)
    H, W = trainer.views.size
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.image_loss(1)(trainer.render_pixels(1, torch.arange(H * W)).reshape(H, W, 3))["loss"].backward()
    direct = {n: p.grad.clone() for n, p in trainer.module.named_parameters() if p.grad is not None}
    assert direct
    trainer.optimizer.zero_grad(set_to_none=True)
    deferred_backward(lambda pixel: trainer.render_pixels(1, pixel), H, W, trainer.image_loss(1),
                      trainer.s["chunk"], trainer.s["patch_rays"])
    for name, p in trainer.module.named_parameters():
        if name in direct:
            scale = float(direct[name].abs().max()) + 1e-12
            assert torch.allclose(p.grad, direct[name], atol=1e-5 * scale, rtol=1e-4), name
    log = trainer.run(progress=False)
    assert np.isfinite([row["loss"] for row in log]).all()
    assert trainer.export()["shading"] == "surface"
