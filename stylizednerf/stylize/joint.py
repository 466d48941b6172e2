"""Joint mode: one style module for a scene's whole style set, and style interpolation.

The per-style stylized NeRFs (:mod:`stylizednerf.stylize.train`) each own a style module. In
joint mode one module serves every style of the scene: its colour depends on the style only
through the latent, so mixing two styles' latents renders something between them (a transition
video, ``render-interpolation``). The NeRF side is trained as in a stylized NeRF's NeRF phase:
``mimic * L_mimic`` towards the 2D stylizations of the training views plus the prior ``L_d``,
with one code per (style, view) initialised from that style's VAE posterior. The 2D targets are
the per-style jobs' fine-tuned decoders applied to the NeRF's training views (the consistent,
L_co-trained stylizations), so the joint model needs the per-style jobs first.

Geometry is frozen and shared: the style field (:mod:`.style_field`) caches its rays once for
all styles.
"""

import time

import torch

from stylizednerf.settings import JointSettings
from stylizednerf.progress import progress_bar
from stylizednerf.stylization2d.losses import style_loss
from stylizednerf.stylize.latents import StyleLatents
from stylizednerf.stylize.losses import mimic_loss, neighbour_pairs
from stylizednerf.stylize.patches import style_term_now
from stylizednerf.stylize.style_field import StyleField
from stylizednerf.stylize.train import LOG_EVERY, flush_losses, resolve_settings, style_features

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
        self.views = views.to(self.device)
        if targets.shape[:2] != (mu.shape[0], self.views.count):
            raise ValueError(f"targets {tuple(targets.shape)} do not match {mu.shape[0]} styles x "
                             f"{self.views.count} views")
        self.targets = targets.to(self.device)
        self.generator = torch.Generator().manual_seed(seed)
        self.field = StyleField(geometry, self.views, self.s, mu.shape[-1], self.device,
                                StyleLatents(mu, sigma, self.views.count, self.generator))
        self.optimizer = torch.optim.Adam([
            *self.field.parameter_groups(self.s["nerf_lr"], self.s["encoding_lr"], self.s["latent_lr"]),
        ], fused=self.device.type == "cuda")
        self.field.cache_rays()
        self.encoder, self.style_feats = None, None
        if self.s["style_3d_weight"] > 0:
            if encoder is None or style_images is None or len(style_images) != mu.shape[0]:
                raise ValueError("the 3D style term (style_3d_weight > 0) needs the encoder and one image per style")
            self.encoder = encoder.to(self.device).eval().requires_grad_(False)
            self.style_feats = [style_features(self.encoder, image.to(self.device)) for image in style_images]
        self.view_pairs = None  # the 3D consistency term's pixel pairs (co_3d_weight > 0)
        if self.s["co_3d_weight"] > 0:
            partners = neighbour_pairs(self.views.c2w.float(), self.s["neighbours"]).cpu()
            self.view_pairs = self.field.neighbour_view_pairs(partners)
        self.log: list[dict] = []

    @property
    def latents(self):
        """The style field's codes, one per style x training view (StyleLatents)."""
        return self.field.latents

    @property
    def styles(self) -> int:
        return self.latents.mu.shape[0]

    def step(self) -> dict:
        """One step on rays drawn uniformly over every (style, view, pixel)."""
        S, V, (H, W) = self.styles, self.views.count, self.views.size
        index = torch.randint(S * V * H * W, (self.s["rays"],), generator=self.generator).to(self.device)
        style, rest = index // (V * H * W), index % (V * H * W)
        view, pixel = rest // (H * W), rest % (H * W)
        v, u = pixel // W, pixel % W
        codes = self.latents.codes[style, view]
        rgb = self.field.render_pixels(view, v, u, codes)
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
        corners = self.field.draw_patches(self.generator)
        style = torch.randint(self.styles, (corners.shape[0],), generator=self.generator)
        pixel_style = style.to(self.device).repeat_interleave(self.field.patch_side() ** 2)
        patches = self.field.render_patches(corners.to(self.device), lambda view: self.latents.codes[pixel_style, view])
        with self.field.amp():
            features = self.encoder.features(patches)
        return torch.stack([style_loss([f[p:p + 1] for f in features], self.style_feats[s])
                            for p, s in enumerate(style.tolist())]).mean()

    def _pair_consistency_loss(self) -> torch.Tensor:
        """The 3D consistency term (:mod:`.view_pairs`): pixels of neighbouring views that see the
        same surface point, each pair under a random style with that style's codes of both views."""
        index = self.field.draw_pair_pixels(self.view_pairs, self.generator).to(self.device)
        style = torch.randint(self.styles, (index.shape[0],), generator=self.generator).to(self.device)
        return self.field.pair_consistency_loss(self.view_pairs, index, lambda view: self.latents.codes[style, view])

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
        code = self.latents.codes[style, view] if latent is None else latent.to(self.device)
        return self.field.render_view(view, code, per_ray=True).clamp(0, 1).reshape(H, W, 3)

    def state(self, step: int) -> dict:
        return {"step": step, **self.field.state(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(), "log": self.log}

    def load_state(self, state: dict) -> int:
        self.field.load_state(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.log = list(state["log"])
        return int(state["step"])

    def export(self, styles: list[str]) -> dict:
        """What ``render`` / ``render-interpolation`` need (the per-style model format, plus names)."""
        return {
            **self.field.export(), "styles": list(styles), "created": time.time(),
        }
