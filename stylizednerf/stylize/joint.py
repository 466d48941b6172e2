"""Joint mode: one style module for a scene's whole style set, and style interpolation.

The per-style stylized NeRFs (:mod:`stylizednerf.stylize.train`) each own a style module. In
joint mode one module serves every style of the scene: its colour depends on the style only
through the latent, so mixing two styles' latents renders something between them (a transition
video, ``render-interpolation``). The NeRF side is trained as in a stylized NeRF's NeRF phase:
``mimic * L_mimic`` towards the 2D stylizations of the training views plus the prior ``L_d``,
with one code per (style, view) initialised from that style's VAE posterior. The 2D targets are
the per-style jobs' fine-tuned decoders applied to the NeRF's training views (the consistent,
L_co-trained stylizations), so the joint model needs the per-style jobs first.

Geometry is frozen and shared: the ray cache is built once for all styles.
"""

import time

import torch

from stylizednerf.settings import JointSettings
from stylizednerf.progress import progress_bar
from stylizednerf.stylization2d.losses import style_loss
from stylizednerf.stylize.latents import StyleLatents
from stylizednerf.stylize.losses import mimic_loss, neighbour_pairs
from stylizednerf.stylize.patches import patch_corners, patch_pixels, patch_side, style_term_now
from stylizednerf.stylize.ray_cache import cache_training_views
from stylizednerf.stylize.rays import pixel_rays
from stylizednerf.stylize.style_module import StyleModule, render_samples
from stylizednerf.stylize.view_pairs import draw_pair_pixels, neighbour_view_pairs, pair_mse, pair_pixels
from stylizednerf.stylize.train import (LOG_EVERY, flush_losses, module_options, resolve_settings, style_features,
                                       style_module_params)

JOINT_DEFAULTS = {"joint_steps": JointSettings().joint_steps}  # the schema's joint.steps


def interpolation_latents(mu: torch.Tensor, frames: int) -> torch.Tensor:
    """Codes (frames, D) moving linearly from style 0's mean through each next style's to the last
    one's: frame k sits at t = k (S - 1) / (frames - 1) on the style axis, between styles floor(t)
    and floor(t) + 1. ``mu`` (S, D), S >= 1."""
    styles = mu.shape[0]
    if frames < 1:
        raise ValueError("an interpolation needs at least one frame")
    if styles == 1 or frames == 1:
        return mu[:1].expand(frames, -1).clone()
    t = torch.linspace(0.0, styles - 1.0, frames, dtype=torch.float64)
    left = t.floor().long().clamp(max=styles - 2)
    alpha = (t - left).to(mu.dtype)[:, None]
    return (1.0 - alpha) * mu[left] + alpha * mu[left + 1]


class JointStylizer:
    """A style module for S styles trained on targets (S, V, H, W, 3) of V training views; with
    the 3D style term (``style_3d_weight`` > 0) also on each style's image through ``encoder``."""

    def __init__(self, settings: dict, geometry, views, targets: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor,
                 device, seed: int = 0, encoder=None, style_images: list[torch.Tensor] | None = None):
        joint = {k: v for k, v in settings.items() if k in JOINT_DEFAULTS}
        shared = {k: v for k, v in settings.items() if k not in JOINT_DEFAULTS}
        self.s = {**resolve_settings(shared), **JOINT_DEFAULTS, **joint}
        if self.s["background"] is None:
            self.s["background"] = getattr(geometry, "background", None)
        self.device = torch.device(device)
        self.geometry, self.views = geometry, views.to(self.device)
        if targets.shape[:2] != (mu.shape[0], self.views.count):
            raise ValueError(f"targets {tuple(targets.shape)} do not match {mu.shape[0]} styles x "
                             f"{self.views.count} views")
        self.targets = targets.to(self.device)
        self.generator = torch.Generator().manual_seed(seed)
        self.autocast = self.device.type == "cuda"
        self.style_module = StyleModule(geometry.feature_dim, mu.shape[-1], **module_options(self.s)).to(self.device)
        self.latents = StyleLatents(mu, sigma, self.views.count, self.generator).to(self.device)
        self.optimizer = torch.optim.Adam([
            *style_module_params(self.style_module, self.s),
            {"params": self.latents.parameters(), "lr": self.s["latent_lr"]},
        ], fused=self.device.type == "cuda")
        self.ray_cache = self._ray_cache()
        self.encoder, self.style_feats = None, None
        if self.s["style_3d_weight"] > 0:
            if encoder is None or style_images is None or len(style_images) != mu.shape[0]:
                raise ValueError("the 3D style term (style_3d_weight > 0) needs the encoder and one image per style")
            self.encoder = encoder.to(self.device).eval().requires_grad_(False)
            self.style_feats = [style_features(self.encoder, image.to(self.device)) for image in style_images]
        self.view_pairs = None  # the 3D consistency term's pixel pairs (co_3d_weight > 0)
        if self.s["co_3d_weight"] > 0:
            partners = neighbour_pairs(self.views.c2w.float(), self.s["neighbours"]).cpu()
            self.view_pairs = neighbour_view_pairs(self.views.depth, self.views.K, self.views.c2w, partners,
                                                   self.s["point_tolerance"])
            if self.view_pairs is None:
                print("note: too many view-pair pixels to keep their splat geometry: the 3D consistency term "
                      "(co_3d_weight) is off", flush=True)
        self.log: list[dict] = []

    @property
    def styles(self) -> int:
        return self.latents.mu.shape[0]

    def _amp(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast)

    def _ray_cache(self):
        return cache_training_views(self.geometry, self.views, self.s, self.device, self.style_module.needs_positions)

    def render_pixels(self, view, v, u, latents, padded: bool = True) -> torch.Tensor:
        """Stylized colours (R, 3) of training pixels under codes ``latents`` (R, D); ``padded``:
        the cache's fixed-width gather (no host sync, for training steps)."""
        if self.ray_cache is not None:
            H, W = self.views.size
            render = self.ray_cache.render_padded if padded else self.ray_cache.render
            with self._amp():
                rgb = render(self.style_module, (view * H + v) * W + u, latents, self.s["background"])
            return rgb.float()
        with torch.no_grad():
            origins, directions = pixel_rays(self.views.K[view].float(), self.views.c2w[view].float(), u, v)
            samples = self.geometry.sample(origins, directions)
        with self._amp():
            rgb = render_samples(self.style_module, samples.weights, samples.features, latents,
                                 self.s["sample_threshold"], self.s["background"], samples.positions)
        return rgb.float()

    def step(self) -> dict:
        """One step on rays drawn uniformly over every (style, view, pixel)."""
        S, V, (H, W) = self.styles, self.views.count, self.views.size
        index = torch.randint(S * V * H * W, (self.s["rays"],), generator=self.generator).to(self.device)
        style, rest = index // (V * H * W), index % (V * H * W)
        view, pixel = rest // (H * W), rest % (H * W)
        v, u = pixel // W, pixel % W
        codes = self.latents.codes[style, view]
        rgb = self.render_pixels(view, v, u, codes)
        l_mimic = mimic_loss(rgb, self.targets[style, view, v, u])
        l_prior = self.latents.prior(self.s["prior_weight"])
        loss = self.s["mimic_weight"] * l_mimic + l_prior
        record = {"mimic": l_mimic, "prior": l_prior}
        if style_term_now(self.s["style_3d_weight"], self.s["style_3d_every"], self.generator):
            record["style_3d"] = self._patch_style_loss()
            loss = loss + self.s["style_3d_weight"] * record["style_3d"]
        if self.view_pairs is not None:
            record["co_3d"] = self._pair_consistency_loss()
            loss = loss + self.s["co_3d_weight"] * record["co_3d"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        record["loss"] = loss
        return {k: v.detach() for k, v in record.items()}

    def _patch_style_loss(self) -> torch.Tensor:
        """The 3D style term (:mod:`.patches`): random patches, each of a random style, rendered with
        that style's code for the view and compared with that style's image."""
        S, V, (H, W) = self.styles, self.views.count, self.views.size
        count, side = self.s["style_3d_patches"], patch_side(self.s["style_3d_patch"], H, W)
        corners = patch_corners(self.generator, count, V, H, W, side)
        style = torch.randint(S, (count,), generator=self.generator)
        view, v, u = patch_pixels(corners.to(self.device), side, H, W)
        codes = self.latents.codes[style.to(self.device).repeat_interleave(side * side), view]
        rgb = self.render_pixels(view, v, u, codes)
        with self._amp():
            features = self.encoder.features(rgb.reshape(count, side, side, 3).permute(0, 3, 1, 2))
        return torch.stack([style_loss([f[p:p + 1] for f in features], self.style_feats[s])
                            for p, s in enumerate(style.tolist())]).mean()

    def _pair_consistency_loss(self) -> torch.Tensor:
        """The 3D consistency term (:mod:`.view_pairs`): pixels of neighbouring views that see the
        same surface point, each pair under a random style with that style's codes of both views."""
        S, (H, W) = self.styles, self.views.size
        count = self.s["co_3d_rays"]
        index = draw_pair_pixels(self.generator, self.view_pairs.views.shape[0], H, W, count).to(self.device)
        style = torch.randint(S, (count,), generator=self.generator).to(self.device)
        first, second, counted = pair_pixels(self.view_pairs, index, H, W)
        a = self.render_pixels(*first, self.latents.codes[style, first[0]])
        b = self.render_pixels(*second, self.latents.codes[style, second[0]])
        return pair_mse(a, b, counted)

    def run(self, checkpoint=None, resume: dict | None = None, progress: bool = True) -> list[dict]:
        """``joint_steps`` steps; ``checkpoint(state)`` every ``checkpoint_every`` steps."""
        first = self.load_state(resume) if resume is not None else 0
        steps = int(self.s["joint_steps"])
        pending = []
        with progress_bar(total=steps, initial=first, disable=not progress, desc="stylize-joint") as bar:
            for step in range(first, steps):
                pending.append((self.step(), {"step": step}))
                bar.update(1)
                saving = checkpoint is not None and (step + 1) % self.s["checkpoint_every"] == 0 and step + 1 < steps
                if saving or (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
                    flush_losses(pending, self.log)
                    bar.set_postfix(loss=f"{self.log[-1]['loss']:.4g}")
                if saving:
                    checkpoint(self.state(step + 1))
        return self.log

    @torch.no_grad()
    def render_training_view(self, style: int, view: int, latent: torch.Tensor | None = None) -> torch.Tensor:
        """Training view ``view`` (H, W, 3) under ``latent`` (default: the style's code for that view)."""
        H, W = self.views.size
        pixels = torch.arange(H * W, device=self.device)
        code = self.latents.codes[style, view] if latent is None else latent.to(self.device)
        out = [self.render_pixels(torch.full_like(p, view), p // W, p % W, code.expand(p.shape[0], -1), padded=False)
               for p in pixels.split(int(self.s["chunk"]))]
        return torch.cat(out).clamp(0, 1).reshape(H, W, 3)

    def state(self, step: int) -> dict:
        return {"step": step, "style_module": self.style_module.state_dict(), "latents": self.latents.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(), "log": self.log}

    def load_state(self, state: dict) -> int:
        self.style_module.load_state_dict(state["style_module"])
        self.latents.load_state_dict(state["latents"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.log = list(state["log"])
        return int(state["step"])

    def export(self, styles: list[str]) -> dict:
        """What ``render`` / ``render-interpolation`` need (the per-style model format, plus names)."""
        return {
            "style_module": self.style_module.state_dict(),
            "feature_dim": self.style_module.feature_dim, "latent_dim": self.style_module.latent_dim,
            **module_options(self.s), "background": self.s["background"],
            "latents": self.latents.codes.detach().cpu(), "mu": self.latents.mu.cpu(),
            "sigma": self.latents.sigma.cpu(), "styles": list(styles), "created": time.time(),
        }
