"""The style field: a style module on the frozen geometry of the training views, and its renderings.

The part of a stylized NeRF that the per-style trainer (:mod:`.train`), the joint one
(:mod:`.joint`) and the ARF baseline (:mod:`stylizednerf.arf.train`) share, kept apart from
their schedules, losses and optimisers (nerfstudio keeps fields apart from trainers):

* the style module (:mod:`.style_module`), shaped by the settings (:func:`module_options`), and
  its codes (:mod:`.latents`: one per training view, or per style x view in joint mode; none for
  ARF), their optimiser groups (:meth:`StyleField.parameter_groups`) and their state
  (:meth:`StyleField.state`, :meth:`StyleField.export`);
* the frozen geometry (:mod:`.field`) and its ray cache of every training pixel
  (:mod:`.ray_cache`), built when the trainer asks (:meth:`StyleField.cache_rays`: on a GPU at most the job's
  declared memory less its reserve, :func:`.ray_cache.cache_limit`);
* stylized colours of training pixels under given codes (:meth:`StyleField.render_pixels`: the
  cache's fixed-width or exact gather, or sampled on the spot), of rays and of whole views, under
  bf16 autocast on CUDA;
* the pixels that the 3D style term (:mod:`.patches`) and the 3D consistency term
  (:mod:`.view_pairs`) render: random patches, and pixel pairs of neighbouring views.

Random draws take the trainer's generator, in the order the trainer calls; a style-module step
captured as a CUDA graph reads only tensors that live as long as the field (the module's
parameters, the ray cache, the view pairs), so replays see the same memory.
"""

import torch

from stylizednerf.stylize.patches import patch_corners, patch_pixels, patch_side
from stylizednerf.stylize.ray_cache import cache_training_views
from stylizednerf.stylize.rays import image_rays, pixel_rays
from stylizednerf.stylize.style_module import StyleModule, render_samples
from stylizednerf.stylize.view_pairs import ViewPairs, draw_pair_pixels, neighbour_view_pairs, pair_mse, pair_pixels


def module_options(settings: dict) -> dict:
    """StyleModule keyword arguments (hidden, layers, encoding, geometry_features, shading) of resolved settings."""
    encoding = None
    if settings["encoding"] != "none":
        encoding = {"kind": settings["encoding"], "levels": settings["encoding_levels"],
                    "log2_table": settings["encoding_log2_table"],
                    "base_resolution": settings["encoding_base_resolution"],
                    "max_resolution": settings["encoding_max_resolution"]}
    return {"hidden": settings["hidden"], "layers": settings["layers"], "encoding": encoding,
            "geometry_features": settings["geometry_features"], "shading": settings["shading"]}


class StyleField:
    """A style module with codes of ``latent_dim`` on ``geometry`` (frozen), for the training
    ``views`` (a :class:`stylizednerf.stylize.train.TrainingViews` on ``device``) under the
    trainer's resolved ``settings`` (read, never changed: ``background``, ``sample_threshold``,
    ``chunk``, ``ray_cache_bytes``, the module's shape and the 3D terms' sizes)."""

    def __init__(self, geometry, views, settings: dict, latent_dim: int, device, latents=None):
        self.geometry, self.views, self.s = geometry, views, settings
        self.device = torch.device(device)
        self.autocast = self.device.type == "cuda"
        self.module = StyleModule(geometry.feature_dim, latent_dim, **module_options(settings)).to(self.device)
        # the trainer's codes (a StyleLatents, drawn from its generator) or None (ARF)
        self.latents = latents.to(self.device) if latents is not None else None
        self.ray_cache = None  # :meth:`cache_rays`

    def cache_rays(self):
        """Sample every training pixel once (:mod:`.ray_cache`); None when off or too large (then
        every rendering samples the geometry on the spot); for a surface-shading module, each ray's
        composited inputs instead of its samples."""
        self.ray_cache = cache_training_views(self.geometry, self.views, self.s, self.device,
                                              self.module.needs_positions, self.module.surface,
                                              self.module.geometry_features)
        return self.ray_cache

    def parameter_groups(self, lr: float, encoding_lr: float, latent_lr: float | None = None) -> list[dict]:
        """Optimiser groups: the MLP at ``lr``, the module's own encoding's tables at ``encoding_lr``,
        and the codes at ``latent_lr`` (when the field has codes and a rate is given)."""
        module = self.module
        encoding = set(map(id, module.encoding.parameters())) if module.encoding is not None else set()
        groups = [{"params": [p for p in module.parameters() if id(p) not in encoding], "lr": lr}]
        if encoding:
            groups.append({"params": list(module.encoding.parameters()), "lr": encoding_lr})
        if self.latents is not None and latent_lr is not None:
            groups.append({"params": list(self.latents.parameters()), "lr": latent_lr})
        return groups

    def parameters(self) -> list[torch.Tensor]:
        """Every trained tensor: the module's, then the codes'."""
        return list(self.module.parameters()) + (list(self.latents.parameters()) if self.latents is not None else [])

    def state(self) -> dict:
        """The trained state, for a checkpoint: ``style_module`` (and ``latents``)."""
        state = {"style_module": self.module.state_dict()}
        if self.latents is not None:
            state["latents"] = self.latents.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        self.module.load_state_dict(state["style_module"])
        if self.latents is not None:
            self.latents.load_state_dict(state["latents"])

    def amp(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast)

    def export(self) -> dict:
        """The field's part of a model file (what ``render`` rebuilds it from): the module, its
        shape, and the codes with their prior (``latents``, ``mu``, ``sigma``) when it has codes."""
        out = {
            "style_module": self.module.state_dict(),
            "feature_dim": self.module.feature_dim, "latent_dim": self.module.latent_dim,
            **module_options(self.s), "background": self.s["background"],
        }
        if self.latents is not None:
            out.update(latents=self.latents.codes.detach().cpu(), mu=self.latents.mu.cpu(),
                       sigma=self.latents.sigma.cpu())
        return out

    # ---- rendering -----------------------------------------------------------------------
    def render_pixels(self, view: torch.Tensor, v: torch.Tensor, u: torch.Tensor, latents: torch.Tensor,
                      padded: bool = True):
        """Stylized colours (R, 3) of training pixels (view, row v, column u), each (R,); ``padded``:
        the cache's fixed-width gather (no host sync, for training steps), else its exact one."""
        if self.ray_cache is not None:
            H, W = self.views.size
            render = self.ray_cache.render_padded if padded else self.ray_cache.render
            with self.amp():
                rgb = render(self.module, (view * H + v) * W + u, latents, self.s["background"])
            return rgb.float()
        origins, directions = pixel_rays(self.views.K[view].float(), self.views.c2w[view].float(), u, v)
        return self.render_rays(origins, directions, latents)

    def render_rays(self, origins, directions, latents, with_depth: bool = False):
        """Stylized colours (R, 3) of rays (and their expected z-depth); ``latents`` (R, D) or (D,)."""
        with torch.no_grad():
            samples = self.geometry.sample(origins, directions)
        with self.amp():
            rgb = render_samples(self.module, samples.weights, samples.features, latents,
                                 self.s["sample_threshold"], self.s["background"], samples.positions)
        return (rgb.float(), samples.depth) if with_depth else rgb.float()

    @torch.no_grad()
    def render_image(self, K, c2w, height: int, width: int, latent) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole stylized view (H, W, 3) and its depth (H, W), chunked so memory stays bounded."""
        origins, directions = image_rays(K.float().to(self.device), c2w.float().to(self.device), height, width)
        rgbs, depths = [], []
        for start in range(0, origins.shape[0], self.s["chunk"]):
            sl = slice(start, start + self.s["chunk"])
            rgb, depth = self.render_rays(origins[sl], directions[sl], latent, with_depth=True)
            rgbs.append(rgb)
            depths.append(depth)
        return torch.cat(rgbs).reshape(height, width, 3).clamp(0, 1), torch.cat(depths).reshape(height, width)

    @torch.no_grad()
    def render_view(self, view: int, latent: torch.Tensor, per_ray: bool = False) -> torch.Tensor:
        """Colours (H * W, 3), not clamped, of training view ``view`` under the code ``latent`` (D,),
        ``chunk`` pixels at a time through :meth:`render_pixels`' exact gather; ``per_ray``: the code
        repeated for every ray (the module's per-ray path) rather than shared."""
        H, W = self.views.size
        pixels = torch.arange(H * W, device=self.device)
        return torch.cat([
            self.render_pixels(torch.full_like(p, view), p // W, p % W,
                               latent.expand(p.shape[0], -1) if per_ray else latent, padded=False)
            for p in pixels.split(int(self.s["chunk"]))])

    # ---- the 3D style term's patches ------------------------------------------------------
    def patch_side(self) -> int:
        return patch_side(self.s["style_3d_patch"], *self.views.size)

    def draw_patches(self, generator: torch.Generator) -> torch.Tensor:
        """(P,) corners (CPU) of ``style_3d_patches`` random patches, from ``generator``."""
        (H, W), V = self.views.size, self.views.count
        return patch_corners(generator, self.s["style_3d_patches"], V, H, W, self.patch_side())

    def render_patches(self, corners: torch.Tensor, codes) -> torch.Tensor:
        """The stylized NeRF's renderings (P, 3, side, side) of the patches at ``corners`` (P,) (on the
        device), the pixels of view ``view`` (R,) under ``codes(view)`` (R, D)."""
        H, W = self.views.size
        side = self.patch_side()
        view, v, u = patch_pixels(corners, side, H, W)
        rgb = self.render_pixels(view, v, u, codes(view))
        return rgb.reshape(-1, side, side, 3).permute(0, 3, 1, 2)

    # ---- the 3D consistency term's view pairs ----------------------------------------------
    def neighbour_view_pairs(self, partners: torch.Tensor) -> ViewPairs | None:
        """:func:`.view_pairs.neighbour_view_pairs` of the training views and their ``partners`` (V, k);
        None (with a note when the 3D consistency term wanted them) past its size limit."""
        v = self.views
        pairs = neighbour_view_pairs(v.depth, v.K, v.c2w, partners, self.s["point_tolerance"])
        if self.s["co_3d_weight"] > 0 and pairs is None:
            print("note: too many view-pair pixels to keep their splat geometry: the 3D consistency term "
                  "(co_3d_weight) is off", flush=True)
        return pairs

    def draw_pair_pixels(self, pairs: ViewPairs, generator: torch.Generator) -> torch.Tensor:
        """(co_3d_rays,) random view-pair pixels (CPU) of ``pairs``, from ``generator``."""
        H, W = self.views.size
        return draw_pair_pixels(generator, pairs.views.shape[0], H, W, self.s["co_3d_rays"])

    def pair_consistency_loss(self, pairs: ViewPairs, index: torch.Tensor, codes) -> torch.Tensor:
        """The 3D consistency term: the renderings of both pixels of the view pairs ``index`` (R,)
        (on the device), each view's pixels under ``codes(view)`` (R, D), by MSE where they count."""
        H, W = self.views.size
        first, second, counted = pair_pixels(pairs, index, H, W)
        a = self.render_pixels(*first, codes(first[0]))
        b = self.render_pixels(*second, codes(second[0]))
        return pair_mse(a, b, counted)
