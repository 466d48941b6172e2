"""The style module: the stylized NeRF's colour branch (METHOD.md section 5).

An MLP maps each sample's inputs and a 32-d style latent to RGB. The latent is concatenated to
the input of every layer; there is no view direction (stylized colour is view-independent) and
the output goes through a sigmoid. Colours are composited with the pre-trained (frozen)
volume-rendering weights, so the geometry cannot change.

The inputs: the frozen geometry features of the pre-trained field and/or the module's own
trainable encoding of the sample's position (``encoding``: a multi-resolution hash grid). The
frozen features were learned for the photo's texture; a painting's brushwork lives at other
places and frequencies, which an MLP on those features fits slowly and blurrily (BENCHMARKS.md,
issue 14). The own grid gives every surface point its own trainable high-frequency code.

Concatenating ``z`` to a layer's input is the same as adding ``W_z z`` to its pre-activation.
The latent is constant along a ray, so we compute ``W_z z`` once per ray and broadcast it over
the ray's samples instead of materialising a (rays, samples, 32) copy of the latent.

Where the module runs is its ``shading``:

* ``volume`` (the paper): on every kept sample of a ray, its colours composited with the frozen
  weights (:func:`render_samples`, :func:`composite_kept`);
* ``surface`` (deferred shading): the kept samples' inputs are composited first, into the ray's
  expected surface point (opacity-normalised mean of the features and of the unit-cube
  positions, :func:`surface_points`), and the module runs once per ray there
  (:func:`shade_surface`): ``out = opacity * module(point) + leftover * background``. The
  colour is then a function of the surface point only, so two views that see the same point
  get the same colour, and the MLP and the own encoding run once per ray instead of once per
  kept sample (~39 on fern). The Triton kernel (:mod:`.style_kernel`) is for volume shading.

Every renderer of the module (:class:`stylizednerf.stylize.style_field.StyleField`, the
training views' ray cache, :class:`stylizednerf.stylize.renderer.StyleRenderer`) goes through
:func:`render_samples` or the cache, which follow the module's shading.
"""

import torch
import torch.nn.functional as F
from torch import nn


def build_encoding(encoding: dict | None):
    """The module's own position encoding: None, or ``{"kind": "hash", levels, log2_table,
    base_resolution, max_resolution}`` (the stylize settings' ``encoding_*``; a missing size takes
    :class:`HashEncoding`'s default)."""
    if not encoding or encoding.get("kind", "none") == "none":
        return None
    if encoding["kind"] != "hash":
        raise ValueError(f"unknown style-module encoding '{encoding['kind']}' (hash or none)")
    from stylizednerf.nerf.fields import HashEncoding

    names = {"levels": "levels", "features": "features", "log2_table": "log2_table",
             "base_resolution": "base_res", "max_resolution": "max_res"}
    return HashEncoding(**{names[k]: v for k, v in encoding.items() if k != "kind"})


SHADINGS = ("volume", "surface")
# a ray whose kept weights sum to less has no surface point: its composited inputs are ~0 and
# its colour is the background (the module's colour is scaled by that opacity)
SURFACE_EPS = 1e-6


class StyleModule(nn.Module):
    def __init__(self, feature_dim: int, latent_dim: int = 32, hidden: int = 128, layers: int = 4,
                 encoding: dict | None = None, geometry_features: bool = True, shading: str = "volume"):
        super().__init__()
        if layers < 1:
            raise ValueError("the style module needs at least one hidden layer")
        if shading not in SHADINGS:
            raise ValueError(f"unknown style-module shading '{shading}' ({' or '.join(SHADINGS)})")
        self.shading = shading
        self.surface = shading == "surface"  # deferred shading: one run per ray at its surface point
        self.feature_dim = feature_dim  # the frozen field's features per sample
        self.latent_dim = latent_dim
        self.encoding = build_encoding(encoding)
        self.geometry_features = bool(geometry_features)
        if not self.geometry_features and self.encoding is None:
            raise ValueError("the style module needs geometry features or its own encoding")
        self.input_dim = ((feature_dim if self.geometry_features else 0)
                          + (self.encoding.out_dim if self.encoding is not None else 0))
        widths = [self.input_dim] + [hidden] * layers
        self.hidden_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        # one latent projection per layer, including the output layer ("every layer")
        self.latent_layers = nn.ModuleList(nn.Linear(latent_dim, b, bias=False) for b in widths[1:] + [3])
        self.output = nn.Linear(hidden, 3)

    @property
    def needs_positions(self) -> bool:
        return self.encoding is not None

    def inputs(self, features: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        """The MLP's input (..., input_dim) of samples with frozen ``features`` (..., F) at unit-cube
        ``positions`` (..., 3) (read only with an own encoding), in the features' dtype."""
        if self.encoding is None:
            return features
        if positions is None:
            raise ValueError("this style module encodes sample positions: pass them")
        encoded = self.encoding(positions.reshape(-1, 3)).reshape(*positions.shape[:-1], -1).to(features.dtype)
        return torch.cat([features, encoded], -1) if self.geometry_features else encoded

    def forward(self, features: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] of shape (..., S, 3) for features (..., S, F) and latents (..., D).

        ``latents`` has the features' shape without the sample axis: one code per ray.
        """
        h = features
        for layer, latent_layer in zip(self.hidden_layers, self.latent_layers[:-1]):
            h = torch.relu(layer(h) + latent_layer(latents).unsqueeze(-2))
        logits = self.output(h) + self.latent_layers[-1](latents).unsqueeze(-2)
        return torch.sigmoid(logits)

    def sparse(self, features: torch.Tensor, ray_index: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """RGB (K, 3) of K samples with features (K, F) lying on rays ``ray_index`` (K,) whose
        codes are ``latents`` (R, D): the latent projections are computed once per ray."""
        h = features
        for layer, latent_layer in zip(self.hidden_layers, self.latent_layers[:-1]):
            h = torch.relu(layer(h) + latent_layer(latents)[ray_index])
        return torch.sigmoid(self.output(h) + self.latent_layers[-1](latents)[ray_index])

    def shared(self, features: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """RGB (K, 3) of K samples that all share one code ``latent`` (D,), e.g. a rendered path
        with the style's mean latent: its projections fold into the layers' biases, so each layer
        is one matrix product with a bias (and an in-place ReLU) instead of four passes."""
        h = features
        if features.is_cuda:  # the ReLU as the matrix product's epilogue (cuBLASLt): one pass less
            dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else features.dtype
            h, latent = h.to(dtype), latent.to(self.output.bias.dtype)
            with torch.autocast("cuda", enabled=False):
                for layer, latent_layer in zip(self.hidden_layers, self.latent_layers[:-1]):
                    bias = (layer.bias + latent_layer(latent)).to(dtype)
                    h = torch._addmm_activation(bias, h, layer.weight.to(dtype).t())
                logits = F.linear(h, self.output.weight.to(dtype),
                                  (self.output.bias + self.latent_layers[-1](latent)).to(dtype))
            return torch.sigmoid(logits)
        for layer, latent_layer in zip(self.hidden_layers, self.latent_layers[:-1]):
            h = torch.relu_(F.linear(h, layer.weight, layer.bias + latent_layer(latent)))
        return torch.sigmoid(F.linear(h, self.output.weight, self.output.bias + self.latent_layers[-1](latent)))


def render_samples(module: StyleModule, weights: torch.Tensor, features: torch.Tensor, latents: torch.Tensor,
                   threshold: float = 1e-4, background: float | None = None,
                   positions: torch.Tensor | None = None) -> torch.Tensor:
    """Stylized colours (R, 3) of rays with frozen weights (R, S) and features (R, S, F) at
    unit-cube ``positions`` (R, S, 3) (needed by a module with its own encoding); codes
    ``latents`` (R, D), or (D,) for one code shared by all rays.

    Samples whose weight is below ``threshold`` contribute nothing visible (the default drops
    at most S * 1e-4 of a pixel's colour), so the MLP runs only on the rest: most of a ray's
    samples are in empty space or behind the surface. A surface-shading module runs once per ray
    at the kept samples' composited point instead (:func:`surface_points`, :func:`shade_surface`).
    """
    if module.surface:
        leftover = 1.0 - weights.sum(dim=-1)
        point_features, point_positions, opacity = surface_points(weights, features, positions, threshold,
                                                                  module.geometry_features, module.needs_positions)
        return shade_surface(module, point_features, point_positions, opacity, latents, leftover, background)
    if latents.dim() == 1 and not torch.is_grad_enabled():  # one shared code (a rendered path): one Triton kernel
        from stylizednerf.stylize.style_kernel import available, render_or_none

        # only where the kernel runs: the inputs of every sample (an own encoding's lookups at all
        # S samples of a ray) cost a CPU more than the rest of the frame, and the eager path below
        # computes them for the kept samples only
        if available(features, module):
            fused = render_or_none(module, weights, module.inputs(features, positions), latents, threshold,
                                   background)
            if fused is not None:
                return fused
    keep = weights > threshold
    ray_index, sample_index = keep.nonzero(as_tuple=True)
    leftover = 1.0 - weights.sum(dim=-1)
    kept_positions = positions[ray_index, sample_index] if positions is not None else None
    return composite_kept(module, features[ray_index, sample_index], weights[ray_index, sample_index], ray_index,
                          latents, leftover, background, kept_positions)


def composite_kept(module: StyleModule, features: torch.Tensor, weights: torch.Tensor, ray_index: torch.Tensor,
                   latents: torch.Tensor, leftover: torch.Tensor, background: float | None = None,
                   positions: torch.Tensor | None = None) -> torch.Tensor:
    """Stylized colours (R, 3) from the kept samples only: features (K, F), weights (K,) and
    (with an own encoding) positions (K, 3) of samples on rays ``ray_index`` (K,), codes
    ``latents`` (R, D) or one code (D,) for all rays; ``leftover`` (R,) is each ray's 1 - sum of
    all its weights, where the ``background`` grey shows (None: black)."""
    features = module.inputs(features, positions)
    if latents.dim() == 1:
        rgb = module.shared(features, latents)
    else:
        rgb = module.sparse(features, ray_index, latents)
    contribution = weights.unsqueeze(-1).to(rgb.dtype) * rgb
    out = torch.zeros(leftover.shape[0], 3, dtype=contribution.dtype, device=weights.device)
    out = out.index_add(0, ray_index, contribution)
    if background is not None:
        out = out + leftover.unsqueeze(-1).to(out.dtype) * background
    return out


@torch.no_grad()
def surface_points(weights: torch.Tensor, features: torch.Tensor, positions: torch.Tensor | None, threshold: float,
                   with_features: bool = True, with_positions: bool = True):
    """Each ray's expected surface point for deferred shading, from frozen weights (R, S),
    features (R, S, F) and unit-cube positions (R, S, 3) of its samples: ``(features (R, F) in
    the features' dtype, positions (R, 3) float32, opacity (R,) float32)``.

    Only the kept samples (weight above ``threshold``, as volume shading runs the module on)
    count: ``opacity`` is the sum of their weights and the point is their weighted mean
    (divided by ``max(opacity, SURFACE_EPS)``). Without ``with_features`` the features are
    (R, 0) (a module without geometry features reads none; their dtype is still the inputs'),
    without ``with_positions`` the positions are None. The geometry is frozen: no gradient.
    """
    kept = torch.where(weights > threshold, weights, 0.0).float()
    opacity = kept.sum(-1)
    scale = 1.0 / opacity.clamp(min=SURFACE_EPS)
    # elementwise products, summed along the ray: float32 whatever the features' dtype (bf16
    # under CUDA autocast), and untouched by autocast
    if with_features:
        point_features = ((kept.unsqueeze(-1) * features).sum(-2) * scale.unsqueeze(-1)).to(features.dtype)
    else:
        point_features = features.new_zeros(features.shape[0], 0)
    point_positions = None
    if with_positions:
        if positions is None:
            raise ValueError("this style module encodes sample positions: pass them")
        point_positions = (kept.unsqueeze(-1) * positions.float()).sum(-2) * scale.unsqueeze(-1)
    return point_features, point_positions, opacity


def shade_surface(module: StyleModule, features: torch.Tensor, positions: torch.Tensor | None, opacity: torch.Tensor,
                  latents: torch.Tensor, leftover: torch.Tensor, background: float | None = None) -> torch.Tensor:
    """Deferred shading: colours (R, 3) of rays whose surface points (:func:`surface_points`) have
    features (R, F) and positions (R, 3) (or None), seen with ``opacity`` (R,); codes ``latents``
    (R, D) or one code (D,) for all rays; ``leftover`` (R,) is each ray's 1 - sum of all its
    weights, where the ``background`` grey shows (None: black). The module runs once per ray."""
    inputs = module.inputs(features, positions)
    if latents.dim() == 1:
        rgb = module.shared(inputs, latents)
    else:  # one "sample" per ray
        rgb = module(inputs.unsqueeze(-2), latents).squeeze(-2)
    out = opacity.unsqueeze(-1).to(rgb.dtype) * rgb
    if background is not None:
        out = out + leftover.unsqueeze(-1).to(out.dtype) * background
    return out


def composite(weights: torch.Tensor, rgb: torch.Tensor, background: float | None = None) -> torch.Tensor:
    """Volume-render per-sample colours (R, S, 3) with frozen weights (R, S) -> (R, 3).

    ``background`` (a grey level) fills the transmittance left at the end of the ray; None leaves
    it black, as the pre-trained field's own compositing does unless told otherwise.
    """
    out = (weights.unsqueeze(-1) * rgb).sum(dim=-2)
    if background is not None:
        out = out + (1.0 - weights.sum(dim=-1, keepdim=True)) * background
    return out
