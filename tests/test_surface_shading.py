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
from test_stylize_training import TINY, _cameras, _tiny_nerf, _views

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
