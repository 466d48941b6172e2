"""The ARF trainer: the frozen NeRF's appearance optimised towards a style image.

The appearance is the stylized NeRF's style field (:class:`stylizednerf.stylize.style_field.
StyleField`: a style module, its own hash grid + an MLP on the frozen geometry's features,
composited with the frozen weights; the training views' ray cache), without a style latent:
``latent_dim`` 1 and a fixed zero code, so the latent projections add nothing and the model
file is one ``render`` reads as it is. Geometry is never trained: only the module's parameters
are in the optimiser.

The schedule, as ARF-svox2's ``opt/opt_style.py``:

1. pre colour transfer (``pre_color_transfer``): the training views (the NeRF's renderings, our
   contents) are recoloured to the style's colour mean and covariance (:mod:`.color_transfer`);
2. ``mse_epochs`` epochs of per-ray MSE to the recoloured views, ``mse_rays`` rays a step, every
   training pixel once per epoch in a shuffled order (ARF: 2 epochs, 5000 rays, on the
   recoloured photos; there it fine-tunes the recoloured grid, here it also initialises ours;
   try_tnt.sh and try_custom.sh use 1 on 360 scenes, :data:`SCENE_KIND_DEFAULTS`);
3. ``nnfm_epochs`` epochs, one whole training view a step, each view once per epoch in a random
   order (ARF: 10): the loss ``nnfm + content_weight * content + tv_weight * tv
   (+ color_weight * colour MSE)`` of the full-resolution rendering, the VGG terms on the view
   downscaled by ``loss_downscale`` (bilinear, ARF's 0.5) against the style image resized to
   that long side (ARF: the content's long side, then halved), back-propagated by deferred
   back-propagation (:mod:`.deferred`);
4. post colour transfer (``post_color_transfer``): the stylized training views' colours matched
   to the style's once more, stored as a 3x3 matrix + offset applied to rendered pixels.
"""

import math
import time

import torch
import torch.nn.functional as F

from stylizednerf.arf.color_transfer import ColorTransfer
from stylizednerf.arf.deferred import deferred_backward
from stylizednerf.arf.nnfm import content_loss, nnfm_loss, relu3_features, tv_loss
from stylizednerf.phase_clock import PhaseClock
from stylizednerf.progress import progress_bar
from stylizednerf.settings import ArfSettings, SettingsError
from stylizednerf.stylize.style_field import StyleField
from stylizednerf.stylize.train import flush_losses

LOG_EVERY = 20  # steps between host syncs (loss log, progress bar)
LATENT_DIM = 1  # the style module without a style code: one zero input

# keys of the arf section that the stage reads, not the trainer
STAGE_KEYS = ("seed", "device", "previews")
DEFAULTS = {k: v for k, v in ArfSettings().to_dict().items() if k not in STAGE_KEYS}
# ARF's public code runs opt_style.py with per-dataset settings (its opt/try_*.sh): forward-facing
# LLFF scenes with 2 colour-fit epochs (try_llff.sh), 360 scenes (try_tnt.sh, try_custom.sh) with 1.
# A setting left null takes the value of the scene's kind (the cameras file's scene_kind, "forward"
# or "360"). The content weight is opt_style.py's own default, 5e-3, on both kinds: try_llff.sh's
# 1e-3 (and 2e-3) wipes fern's structure with our appearance module (an MLP + hash grid under Adam,
# not ARF's SH grid under RMSProp), on the H200 and in a CPU check at 126x94 (evaluation content
# loss 4.9 and 4.1 against 2.1 at 5e-3; ARF's own 2D optimisation reached 2.9; BENCHMARKS.md
# "ARF on fern: the content weight that keeps the scene").
SCENE_KIND_DEFAULTS = {
    "forward": {"content_weight": 5.0e-3, "mse_epochs": 2},
    "360": {"content_weight": 5.0e-3, "mse_epochs": 1},
}


def resolve_settings(settings: dict, scene_kind: str = "forward") -> dict:
    """:data:`DEFAULTS` overlaid with ``settings`` (stage keys dropped), then the null settings
    of :data:`SCENE_KIND_DEFAULTS` filled in for ``scene_kind``; an unknown key or scene kind
    raises SettingsError naming it."""
    unknown = set(settings) - set(DEFAULTS) - set(STAGE_KEYS)
    if unknown:
        raise SettingsError(f"error: arf: unknown setting '{sorted(unknown)[0]}'")
    if scene_kind not in SCENE_KIND_DEFAULTS:
        raise SettingsError(f"error: arf: unknown scene kind '{scene_kind}' (one of {', '.join(SCENE_KIND_DEFAULTS)})")
    resolved = {**DEFAULTS, **{k: v for k, v in settings.items() if k not in STAGE_KEYS}}
    for key, value in SCENE_KIND_DEFAULTS[scene_kind].items():
        if resolved[key] is None:
            resolved[key] = value
    return resolved


def resize_long_side(rgb: torch.Tensor, long_side: int) -> torch.Tensor:
    """(1, 3, H, W) resized (area-like: antialiased bilinear) so its longer side is ``long_side``."""
    H, W = rgb.shape[-2:]
    scale = long_side / max(H, W)
    size = (max(1, round(H * scale)), max(1, round(W * scale)))
    return F.interpolate(rgb, size=size, mode="bilinear", antialias=True, align_corners=False)


class ArfTrainer:
    def __init__(self, settings: dict, geometry, views, encoder, style_rgb: torch.Tensor, device, seed: int = 0,
                 scene_kind: str = "forward"):
        """``views``: a :class:`stylizednerf.stylize.train.TrainingViews` (the NeRF's renderings of
        the training views); ``style_rgb`` (1, 3, H, W) in [0, 1]; ``scene_kind`` ("forward" or
        "360") picks ARF's per-dataset values of the settings left null."""
        self.s = resolve_settings(settings, scene_kind)
        if self.s["background"] is None:  # composite like the pre-trained field does
            self.s["background"] = getattr(geometry, "background", None)
        self.device = torch.device(device)
        self.views = views.to(self.device)
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.generator = torch.Generator().manual_seed(seed)  # CPU generator: same draws on any device
        torch.manual_seed(seed)  # the module's initial weights
        self.field = StyleField(geometry, self.views, self.s, LATENT_DIM, self.device)
        self.latent = torch.zeros(LATENT_DIM, device=self.device)
        self.optimizer = torch.optim.Adam(self.field.parameter_groups(self.s["lr"], self.s["encoding_lr"]),
                                          fused=self.device.type == "cuda")

        style = style_rgb.to(self.device).float()
        H, W = self.views.size
        # the recoloured contents: the targets of the colour fit and the content term
        self.pre_transfer = (ColorTransfer.fit(self.views.rgb, style.permute(0, 2, 3, 1))
                             if self.s["pre_color_transfer"] else ColorTransfer.identity())
        self.contents = self.pre_transfer.apply(self.views.rgb, clamp=True)
        self.loss_size = (max(1, H // self.s["loss_downscale"]), max(1, W // self.s["loss_downscale"]))
        with torch.no_grad(), self.field.amp():
            self.style_features = relu3_features(self.encoder, resize_long_side(style, max(self.loss_size))).float()
        self.style_rgb = style
        self.field.cache_rays()
        self.post_transfer = ColorTransfer.identity()
        self.log: list[dict] = []
        self.phase_seconds: dict[str, float] = {}  # run()'s time per kind of work

    @property
    def module(self):
        """The appearance: the style field's module."""
        return self.field.module

    # ---- rendering ---------------------------------------------------------------------------
    def render_pixels(self, view: int | torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
        """Colours (R, 3) float of training pixels (flat row-major indices ``pixel`` (R,) of views
        ``view``, an int or (R,)); differentiable in the module when grad is enabled."""
        W = self.views.size[1]
        # one shared code takes StyleModule.shared, whose CUDA matmul+ReLU epilogue has no backward:
        # with a graph, a code per ray (StyleModule.sparse; zeros either way)
        latent = self.latent.expand(pixel.shape[0], -1) if torch.is_grad_enabled() else self.latent
        view = torch.as_tensor(view, device=self.device).expand_as(pixel)
        return self.field.render_pixels(view, pixel // W, pixel % W, latent, padded=False)

    @torch.no_grad()
    def render_view(self, view: int, post: bool = True) -> torch.Tensor:
        """Training view ``view`` (H, W, 3) in [0, 1], with the post colour transfer when ``post``."""
        H, W = self.views.size
        rgb = self.field.render_view(view, self.latent)
        if post:
            rgb = self.post_transfer.apply(rgb)
        return rgb.clamp(0, 1).reshape(H, W, 3)

    # ---- steps -------------------------------------------------------------------------------
    def mse_steps_per_epoch(self) -> int:
        V, (H, W) = self.views.count, self.views.size
        return math.ceil(V * H * W / self.s["mse_rays"])

    def mse_step(self, index: torch.Tensor) -> dict:
        """One step of the colour fit on the training pixels ``index`` (R,) (view-major flat)."""
        H, W = self.views.size
        view, pixel = index // (H * W), index % (H * W)
        rgb = self.render_pixels(view, pixel)
        loss = F.mse_loss(rgb, self.contents.reshape(-1, 3)[index])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"mse": loss.detach(), "loss": loss.detach()}

    def image_loss(self, view: int):
        """The NNFM stage's loss of a rendered training view ``view``: a function of the image (H, W, 3)."""
        content = self.contents[view].permute(2, 0, 1)[None]
        with torch.no_grad(), self.field.amp():
            content_features = relu3_features(self.encoder, self._downscale(content)).float()

        def loss(image: torch.Tensor) -> dict:
            rgb = image.permute(2, 0, 1)[None]
            with self.field.amp():
                features = relu3_features(self.encoder, self._downscale(rgb))
            terms = {"nnfm": nnfm_loss(features, self.style_features),
                     "content": content_loss(features, content_features), "tv": tv_loss(rgb)}
            total = terms["nnfm"] + self.s["content_weight"] * terms["content"] + self.s["tv_weight"] * terms["tv"]
            if self.s["color_weight"] > 0:
                terms["color"] = F.mse_loss(rgb, content)
                total = total + self.s["color_weight"] * terms["color"]
            terms["loss"] = total
            return terms

        return loss

    def _downscale(self, rgb: torch.Tensor) -> torch.Tensor:
        if self.s["loss_downscale"] == 1:
            return rgb
        return F.interpolate(rgb, size=self.loss_size, mode="bilinear", align_corners=False)

    def nnfm_step(self, view: int) -> dict:
        """One NNFM step on the whole training view ``view`` by deferred back-propagation."""
        H, W = self.views.size
        self.optimizer.zero_grad(set_to_none=True)
        terms, _ = deferred_backward(lambda pixel: self.render_pixels(view, pixel), H, W, self.image_loss(view),
                                     self.s["chunk"], self.s["patch_rays"], self.device)
        self.optimizer.step()
        return terms

    # ---- the loop ----------------------------------------------------------------------------
    def schedule(self) -> list[tuple[str, int, object]]:
        """[(phase, epoch, batch)] in training order: ``mse`` batches of flat pixel indices, ``nnfm`` view indices."""
        V, (H, W) = self.views.count, self.views.size
        steps = []
        for epoch in range(self.s["mse_epochs"]):
            order = torch.randperm(V * H * W, generator=self.generator)
            steps += [("mse", epoch, order[k:k + self.s["mse_rays"]]) for k in range(0, V * H * W, self.s["mse_rays"])]
        for epoch in range(self.s["nnfm_epochs"]):
            steps += [("nnfm", epoch, int(v)) for v in torch.randperm(V, generator=self.generator)]
        return steps

    def run(self, progress: bool = True) -> list[dict]:
        steps = self.schedule()
        bar = progress_bar(total=len(steps), disable=not progress, desc="arf")
        pending: list[tuple[dict, dict]] = []
        start = time.perf_counter()
        clock = PhaseClock()  # where the time went: the MSE epochs, the NNFM epochs, the post-CT fit
        for number, (phase, epoch, batch) in enumerate(steps):
            if number and phase != steps[number - 1][0]:
                clock.lap(f"{steps[number - 1][0]} steps")
            if phase == "mse":
                record = self.mse_step(batch.to(self.device))
            else:
                record = self.nnfm_step(batch)
            pending.append((record, {"phase": phase, "epoch": epoch, "step": number}))
            bar.update(1)
            if (number + 1) % LOG_EVERY == 0 or number + 1 == len(steps):
                flush_losses(pending, self.log)
                bar.set_postfix({k: f"{v:.4g}" for k, v in self.log[-1].items() if k in ("loss", "nnfm", "mse")})
        bar.close()
        if steps:
            clock.lap(f"{steps[-1][0]} steps")
        self.seconds_training = time.perf_counter() - start
        if self.s["post_color_transfer"]:
            self.post_transfer = self.fit_post_transfer()
            clock.lap("post colour transfer")
        self.phase_seconds = clock.totals()
        return self.log

    @torch.no_grad()
    def fit_post_transfer(self) -> ColorTransfer:
        """ARF's post-CT: the stylized training views' colours to the style image's statistics."""
        rendered = torch.stack([self.render_view(i, post=False) for i in range(self.views.count)])
        return ColorTransfer.fit(rendered, self.style_rgb.permute(0, 2, 3, 1))

    def export(self) -> dict:
        """A model file that ``render`` reads like the stylize stage's: the module, its shape, a
        zero code as the style's mean latent, and the post colour transfer."""
        return {
            **self.field.export(),
            "latents": torch.zeros(self.views.count, LATENT_DIM), "mu": torch.zeros(1, LATENT_DIM),
            "sigma": torch.ones(1, LATENT_DIM), "color_transform": self.post_transfer.to_dict(),
            "pre_color_transform": self.pre_transfer.to_dict(), "method": "arf",
        }
