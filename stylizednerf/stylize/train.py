"""Training a stylized NeRF for one scene x style: 2D-3D mutual learning (METHOD.md section 5).

Two sides, trained in alternating rounds:

* 2D side: the AdaIN decoder, fine-tuned on the pre-trained NeRF's renderings of the training
  views with ``co * L_co + content + style`` and, in mutual mode, ``mimic_2d * L_mimic`` towards
  the stylized NeRF's renderings of the same views (the 3D side teaching consistency).
* 3D side: the style module and the per-view latents, trained with ``mimic * L_mimic`` towards
  the decoder's stylizations plus the prior ``L_d``. Geometry (density, sampling) is frozen:
  only colours change, composited with the pre-trained weights.

``mutual: true`` (the paper): rounds of [decoder steps -> stylize targets -> NeRF steps -> render
the NeRF's training views], the decoder of round r > 0 also mimicking the NeRF of round r-1.
``mutual: false`` (the official code): all decoder steps (L_co + content + style), then all NeRF
steps on the resulting stylizations; the decoder never sees the NeRF.

The trainer is written against two small interfaces so that it does not depend on how the
NeRF or the decoder are built:

* ``geometry.sample(origins, directions) -> .weights (R, S), .features (R, S, F), .depth (R,)``
  and ``geometry.feature_dim``: frozen per-sample volume-rendering weights and features
  (see :mod:`stylizednerf.stylize.field`), rendered with the style module by
  :class:`stylizednerf.stylize.style_field.StyleField`;
* ``encoder.features(rgb) -> [relu1_1, .., relu4_1]`` and ``decoder(relu4_1 target) -> rgb``.
"""

import math
from dataclasses import dataclass

import torch

from stylizednerf.cuda_graph import capture_step
from stylizednerf.phase_clock import PhaseClock
from stylizednerf.progress import progress_bar
from stylizednerf.settings import TRAINER_KEYS, SettingsError, StyleTrainerSettings
from stylizednerf.stylization2d.decoder import crop_to
from stylizednerf.stylization2d.losses import content_loss, style_loss
from stylizednerf.stylization2d.stylize import adain_target, decode_target
from stylizednerf.stylize.latents import StyleLatents
from stylizednerf.stylize.losses import consistency_loss_cached, mimic_loss, neighbour_pairs
from stylizednerf.stylize.patches import style_term_now
from stylizednerf.stylize.style_field import StyleField
from stylizednerf.warp import splat_correspondence

LOG_EVERY = 50  # steps between host syncs (loss log, progress bar)
FIT_PIXELS = 1 << 14  # training pixels that the final fit (L_mimic PSNR) is measured on

# The trainer's settings and their defaults: the schema's stylize section (METHOD.md / the public
# code's values where they say something), through the typed StyleTrainerSettings.
DEFAULTS = {k: v for k, v in StyleTrainerSettings().to_dict().items() if k in TRAINER_KEYS}


# keys of the stylize config section that the stage or the workflow reads, not the trainer
STAGE_KEYS = ("seed", "device", "previews", "sequential_baseline")


def trainer_settings(settings: dict) -> dict:
    """``settings`` without :data:`STAGE_KEYS`."""
    return {k: v for k, v in settings.items() if k not in STAGE_KEYS}


def target_drift(new: torch.Tensor, old: torch.Tensor) -> dict:
    """How far a NeRF phase's 2D targets moved from the previous phase's: MSE and PSNR (dB)."""
    score = mimic_psnr(new, old)
    return {"mse": score["mimic_mse"], "psnr": score["mimic_psnr"]}


def mimic_psnr(rendered: torch.Tensor, targets: torch.Tensor) -> dict:
    """How well the stylized NeRF fits its 2D targets: MSE and PSNR (dB) of rendered against target colours."""
    mse = float(((rendered.float() - targets.float()) ** 2).mean())
    return {"mimic_mse": mse, "mimic_psnr": -10.0 * math.log10(max(mse, 1e-12))}


def resolve_settings(settings: dict) -> dict:
    """:data:`DEFAULTS` overlaid with ``settings``; an unknown key raises SettingsError naming it."""
    unknown = set(settings) - set(DEFAULTS) - set(STAGE_KEYS)
    if unknown:
        raise SettingsError(f"error: stylize: unknown setting '{sorted(unknown)[0]}'")
    return {**DEFAULTS, **settings}


@dataclass
class TrainingViews:
    """The 2D side's contents: the pre-trained NeRF's renderings of the training views."""

    rgb: torch.Tensor  # (V, H, W, 3) float in [0, 1]
    depth: torch.Tensor  # (V, H, W) z-depth
    K: torch.Tensor  # (V, 3, 3)
    c2w: torch.Tensor  # (V, 4, 4)

    @property
    def count(self) -> int:
        return self.rgb.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[2]

    def to(self, device) -> "TrainingViews":
        return TrainingViews(*(t.to(device) for t in (self.rgb, self.depth, self.K, self.c2w)))


def style_features(encoder, style_rgb: torch.Tensor) -> list[torch.Tensor]:
    """Encoder features of the style image (1, 3, H, W), computed once."""
    from stylizednerf.stylization2d.decoder import pad_to_multiple

    with torch.no_grad():
        return [f.detach() for f in encoder.features(pad_to_multiple(style_rgb))]


class Stylizer:
    """Holds both sides' models and optimisers; ``run`` trains them as configured."""

    def __init__(self, settings: dict, geometry, views: TrainingViews, encoder, decoder, style_rgb: torch.Tensor,
                 mu: torch.Tensor, sigma: torch.Tensor, device, seed: int = 0):
        clock = PhaseClock()
        self.s = resolve_settings(settings)
        if self.s["background"] is None:  # composite like the pre-trained field does
            self.s["background"] = getattr(geometry, "background", None)
        self.device = torch.device(device)
        self.views = views.to(self.device)
        clock.lap("views")
        # the encoder is fixed (only the decoder is fine-tuned): no weight gradients for it
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.decoder = decoder.to(self.device)
        self.generator = torch.Generator().manual_seed(seed)  # CPU generator: same draws on any device
        self.style_feats = style_features(self.encoder, style_rgb.to(self.device))
        self.autocast = self.device.type == "cuda"
        clock.lap("models")
        # the AdaIN target of each training view depends only on the (fixed) content and style:
        # encoded once here instead of in every decoder step
        self.targets_2d = self._adain_targets()
        clock.lap("AdaIN targets")
        self.field = StyleField(geometry, self.views, self.s, mu.shape[-1], self.device,  # the 3D side's colours
                                StyleLatents(mu, sigma, self.views.count, self.generator))
        self.partners = neighbour_pairs(self.views.c2w.float(), self.s["neighbours"]).cpu()
        # the geometry is frozen, so where view i splats into view j never changes: computed once
        # for every pair the decoder batches can draw (None when too large: splat every step)
        self.co_cache = self.field.neighbour_view_pairs(self.partners)
        clock.lap("L_co geometry")
        # likewise the samples (weights, features) of every training pixel: a style-module step
        # then only gathers them and runs the MLP (None past ray_cache_bytes: sampled every step)
        self.field.cache_rays()
        clock.lap("ray cache")
        if self.ray_cache is not None:
            print(f"ray cache: {self.ray_cache.samples_per_ray:.1f} samples per ray, "
                  f"{self.ray_cache.nbytes / 2**20:.0f} MB", flush=True)
        elif self.s["ray_cache_bytes"]:
            print(f"ray cache: off (more than ray_cache_bytes = {self.s['ray_cache_bytes']}, or on a GPU more than "
                  "the job's gpu_mem_mb less ray_cache_reserve_mb, or 60 % of the free memory when it declared "
                  "none); geometry sampled in every step", flush=True)
        cuda = self.device.type == "cuda"
        # the style-module step replays as one CUDA graph when its shapes are fixed (the ray cache)
        self.use_graph = cuda and self.ray_cache is not None and bool(self.s["cuda_graph"])
        self._graphs = {}  # with the 3D style term or not -> (graph, index buffers, losses)
        nerf_adam = {"fused": True, "capturable": True} if self.use_graph else {"fused": cuda}
        self.decoder_opt = torch.optim.Adam(self.decoder.parameters(), lr=self.s["decoder_lr"], fused=cuda)
        self.nerf_opt = torch.optim.Adam([
            *self.field.parameter_groups(self.s["nerf_lr"], self.s["encoding_lr"], self.s["latent_lr"]),
        ], **nerf_adam)
        clock.lap("optimisers")
        print(f"stylizer set-up: {clock}", flush=True)
        self.decoder_iteration = 0  # drives the lr schedule 1e-4 / (1 + 5e-5 i)
        self._targets = None  # (V, H, W, 3) the decoder's stylizations, the NeRF side's targets
        self.nerf_renders = None  # (V, H, W, 3) the NeRF's stylized training views (mutual mode)
        self.log: list[dict] = []
        # per NeRF phase after the first (mutual mode): how far its new 2D targets moved from the last
        # phase's. A style module fitting targets that move by about its own L_mimic averages the
        # decoder's successive stroke placements: a candidate cause of mutual learning's lost style
        self.target_drift: list[dict] = []
        # where run()'s time went (decoder steps, style-module steps, 2D targets, NeRF renders):
        # what a faster job must come from (this run only: a resumed job counts what it ran)
        self.phase_seconds: dict[str, float] = {}

    @property
    def style_module(self):
        """The style field's module (what the checkpoint and the export hold)."""
        return self.field.module

    @property
    def latents(self):
        """The style field's codes, one per training view (StyleLatents)."""
        return self.field.latents

    @property
    def ray_cache(self):
        """The style field's ray cache, or None (then the geometry is sampled in every step)."""
        return self.field.ray_cache

    @property
    def targets(self):
        return self._targets

    @targets.setter
    def targets(self, value) -> None:
        if value is not None and self._targets is not None and value.shape == self._targets.shape:
            self._targets.copy_(value)  # in place: a captured CUDA graph reads this buffer
        else:
            self._targets = value

    # ---- schedule ------------------------------------------------------------------------
    def phases(self) -> list[tuple[int, str, int]]:
        """[(round, 'decoder' | 'nerf', steps)] in training order."""
        if not self.s["mutual"]:
            rounds = self.s["rounds"]
            return [(0, "decoder", self.s["decoder_steps"] * rounds), (0, "nerf", self.s["nerf_steps"] * rounds)]
        return [(r, phase, self.s[f"{phase}_steps"]) for r in range(self.s["rounds"]) for phase in ("decoder", "nerf")]

    def _amp(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast)

    # ---- 2D side -------------------------------------------------------------------------
    def _decoder_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """View indices (B,) in anchor/partner pairs and the (i, j) pairs (both directions)."""
        n_pairs = max(1, self.s["batch_views"] // 2)
        anchors = torch.randint(self.views.count, (n_pairs,), generator=self.generator)
        choice = torch.randint(self.partners.shape[1], (n_pairs,), generator=self.generator)
        partners = self.partners[anchors, choice]
        views = torch.stack([anchors, partners], dim=1).reshape(-1)
        first = torch.arange(0, 2 * n_pairs, 2)
        pairs = torch.cat([torch.stack([first, first + 1], 1), torch.stack([first + 1, first], 1)])
        return self._to_device(views), self._to_device(pairs)

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """Host draws to the device without a sync: a copy from pageable memory waits for the GPU
        to go idle, so the host could not queue the next step while this one runs."""
        if self.device.type != "cuda":
            return tensor
        return tensor.pin_memory().to(self.device, non_blocking=True)

    def decoder_step(self, use_mimic: bool) -> dict:
        views, pairs = self._decoder_batch()
        lr = self.s["decoder_lr"] / (1.0 + self.s["decoder_lr_decay"] * self.decoder_iteration)
        for group in self.decoder_opt.param_groups:
            group["lr"] = lr
        H, W = self.views.size
        target = self.targets_2d[views]
        with self._amp():
            full = self.decoder(target)
            output = crop_to(full, H, W)
            out_feats = self.encoder.features(full)
        l_content = content_loss(out_feats[-1], target)
        l_style = style_loss(out_feats, self.style_feats)
        stylized = output.float().permute(0, 2, 3, 1)
        l_co, _ = consistency_loss_cached(stylized, pairs, *self._pair_geometry(views, pairs))
        loss = self.s["co_weight"] * l_co + self.s["content_weight"] * l_content + self.s["style_weight"] * l_style
        record = {"co": l_co, "content": l_content, "style": l_style}
        if use_mimic:
            l_mimic = mimic_loss(*self._mimic_2d_pairs(stylized, views))
            loss = loss + self.s["mimic_2d_weight"] * l_mimic
            record["mimic_2d"] = l_mimic
        self.decoder_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.decoder_opt.step()
        self.decoder_iteration += 1
        record["loss"] = loss
        return {k: v.detach() for k, v in record.items()}  # tensors: no host sync per step

    def _mimic_2d_pairs(self, stylized: torch.Tensor, views: torch.Tensor):
        """(decoder colours, stylized-NeRF colours) for L_mimic on the decoder side.

        ``mimic_2d_pixels`` = 0: whole views, from the NeRF renderings made once per round.
        N > 0: N random pixels per view, rendered on the spot (on a CPU, rendering every training
        view each round costs more than the rest of the round).
        """
        count = self.s["mimic_2d_pixels"]
        if count <= 0:
            return stylized, self.nerf_renders[views]
        B, H, W = stylized.shape[:3]
        pixel = self._to_device(torch.randint(H * W, (B, count), generator=self.generator))
        view = views[:, None].expand(B, count).reshape(-1)
        v, u = (pixel // W).reshape(-1), (pixel % W).reshape(-1)
        with torch.no_grad():
            target = self.field.render_pixels(view, v, u, self.latents(view).detach())
        batch = torch.arange(B, device=self.device)[:, None].expand(B, count).reshape(-1)
        return stylized[batch, v, u], target

    @torch.no_grad()
    def stylize_views(self) -> torch.Tensor:
        """The decoder's stylizations of every training view, (V, H, W, 3) in [0, 1]."""
        out = []
        H, W = self.views.size
        for start in range(0, self.views.count, self.s["batch_views"]):
            with self._amp():
                output = decode_target(self.decoder, self.targets_2d[start:start + self.s["batch_views"]], H, W)
            out.append(output.float().clamp(0, 1).permute(0, 2, 3, 1))
        return torch.cat(out)

    @torch.no_grad()
    def _pair_geometry(self, views: torch.Tensor, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """L_co's splat geometry (source, mask) of the batch's view pairs: from the cache, or splatted now."""
        if self.co_cache is not None:
            slot, source, mask = self.co_cache
            index = slot[views[pairs[:, 0]], views[pairs[:, 1]]]
            return source[index], mask[index]
        i, j = views[pairs[:, 0]], views[pairs[:, 1]]
        v = self.views
        return splat_correspondence(v.depth[i].float(), v.K[i].float(), v.c2w[i].float(), v.depth[j].float(),
                                    v.K[j].float(), v.c2w[j].float(), self.s["point_tolerance"], torch.float32)

    @torch.no_grad()
    def _adain_targets(self) -> torch.Tensor:
        out = []
        for start in range(0, self.views.count, self.s["batch_views"]):
            content = self.views.rgb[start:start + self.s["batch_views"]].permute(0, 3, 1, 2).float()
            with self._amp():
                out.append(adain_target(self.encoder, content, self.style_feats[-1]).float())
        return torch.cat(out)

    # ---- 3D side -------------------------------------------------------------------------
    def nerf_step(self) -> dict:
        V, (H, W) = self.views.count, self.views.size
        index = self._to_device(torch.randint(V * H * W, (self.s["rays"],), generator=self.generator))
        patches = self._patch_corners() if self._style_3d_now() else None
        pair_index = self._pair_index()
        if self.use_graph:
            key = patches is not None  # one graph per step shape: with and without the 3D style term
            if key not in self._graphs:
                self._capture_nerf_step(index, patches, pair_index)
            if key in self._graphs:
                graph, buffers, record = self._graphs[key]
                for buffer, value in zip(buffers, (index, patches, pair_index)):
                    if value is not None:
                        buffer.copy_(value, non_blocking=True)
                graph.replay()
                return {k: v.clone() for k, v in record.items()}
        return self._nerf_update(index, patches, pair_index)

    def _pair_index(self) -> torch.Tensor | None:
        """This step's ``co_3d_rays`` random view-pair pixels (:mod:`.view_pairs`), or None without
        the 3D consistency term."""
        if self.s["co_3d_weight"] <= 0 or self.co_cache is None:
            return None
        return self._to_device(self.field.draw_pair_pixels(self.co_cache, self.generator))

    def _pair_consistency_loss(self, pair_index: torch.Tensor) -> torch.Tensor:
        """The 3D consistency term: the stylized NeRF's renderings, each with its view's code, of
        pixels of neighbouring training views that see the same surface point, by MSE."""
        return self.field.pair_consistency_loss(self.co_cache, pair_index, self.latents)

    def _style_3d_now(self) -> bool:
        return style_term_now(self.s["style_3d_weight"], self.s["style_3d_every"], self.generator)

    def _patch_corners(self) -> torch.Tensor:
        """(P,) corners of this step's ``style_3d_patches`` random patches, on the device."""
        return self._to_device(self.field.draw_patches(self.generator))

    def _patch_style_loss(self, corners: torch.Tensor) -> torch.Tensor:
        """The style loss (the decoder's, against the style image) of the stylized NeRF's renderings,
        with each view's code, of the square patches at ``corners`` (P,) (:mod:`.patches`)."""
        patches = self.field.render_patches(corners, self.latents)
        with self._amp():
            features = self.encoder.features(patches)
        return style_loss(features, self.style_feats)

    def _nerf_update(self, index: torch.Tensor, patches: torch.Tensor | None = None,
                     pair_index: torch.Tensor | None = None) -> dict:
        """One style-module step on the training pixels ``index`` (R,) (view-major flat indices),
        with the 3D style term on the patches at ``patches`` (P,) and the 3D consistency term on
        the view-pair pixels ``pair_index`` when given."""
        H, W = self.views.size
        view, pixel = index // (H * W), index % (H * W)
        v, u = pixel // W, pixel % W
        rgb = self.field.render_pixels(view, v, u, self.latents(view))
        l_mimic = mimic_loss(rgb, self.targets[view, v, u])
        l_prior = self.latents.prior(self.s["prior_weight"])
        loss = self.s["mimic_weight"] * l_mimic + l_prior
        record = {"mimic": l_mimic, "prior": l_prior}
        if patches is not None:
            l_style = self._patch_style_loss(patches)
            loss = loss + self.s["style_3d_weight"] * l_style
            record["style_3d"] = l_style
        if pair_index is not None:
            l_co_3d = self._pair_consistency_loss(pair_index)
            loss = loss + self.s["co_3d_weight"] * l_co_3d
            record["co_3d"] = l_co_3d
        self.nerf_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.nerf_opt.step()
        record["loss"] = loss
        return {k: v.detach() for k, v in record.items()}

    def _capture_nerf_step(self, index: torch.Tensor, patches: torch.Tensor | None = None,
                           pair_index: torch.Tensor | None = None) -> None:
        """Record the style-module step as one CUDA graph (a few hundred small kernels, which the
        host launches slower than the GPU runs them). The warm-up steps that capture needs are
        undone: parameters and optimiser state are restored in place, so the run is unchanged."""
        params = self.field.parameters()
        saved = [p.detach().clone() for p in params]
        had_state = {id(p): {k: v.clone() for k, v in self.nerf_opt.state[p].items()} for p in params
                     if p in self.nerf_opt.state}
        try:
            buffers = tuple(None if value is None else value.clone() for value in (index, patches, pair_index))
            graph, record = capture_step(
                lambda: self._nerf_update(*buffers),
                before_capture=lambda: self.nerf_opt.zero_grad(set_to_none=True))
            self._graphs[patches is not None] = (graph, buffers, record)
        except Exception as error:  # noqa: BLE001  no graph: eager steps, same numbers
            print(f"note: CUDA graph capture of the style-module step failed ({type(error).__name__}: {error}); "
                  "eager steps", flush=True)
            self.use_graph, self._graphs = False, {}
            torch.cuda.synchronize()
        with torch.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)
            for p in params:
                for key, value in self.nerf_opt.state[p].items():
                    if torch.is_tensor(value):
                        value.copy_(had_state[id(p)][key]) if id(p) in had_state else value.zero_()

    @torch.no_grad()
    def render_training_views(self) -> torch.Tensor:
        """Every training view (V, H, W, 3) with its own code: each in one exact gather of the ray
        cache, or sampled on the spot in chunks."""
        H, W = self.views.size
        pixels = torch.arange(H * W, device=self.device)
        out = []
        for i in range(self.views.count):
            latent = self.latents(torch.tensor(i, device=self.device))
            if self.field.ray_cache is not None:
                rgb = self.field.render_pixels(i, pixels // W, pixels % W, latent, padded=False)
                out.append(rgb.clamp(0, 1).reshape(H, W, 3))
            else:
                out.append(self.field.render_image(self.views.K[i], self.views.c2w[i], H, W, latent)[0])
        return torch.stack(out)

    # ---- checkpoints ---------------------------------------------------------------------
    def state(self, phase_index: int, step: int) -> dict:
        return {
            "phase_index": phase_index, "step": step, "decoder_iteration": self.decoder_iteration,
            "decoder": self.decoder.state_dict(), **self.field.state(), "decoder_opt": self.decoder_opt.state_dict(),
            "nerf_opt": self.nerf_opt.state_dict(), "generator": self.generator.get_state(), "log": self.log,
            "target_drift": self.target_drift, "targets": self.targets,  # what the next phase's drift is against
        }

    def load_state(self, state: dict) -> tuple[int, int]:
        self.decoder.load_state_dict(state["decoder"])
        self.field.load_state(state)
        self.decoder_opt.load_state_dict(state["decoder_opt"])
        self.nerf_opt.load_state_dict(state["nerf_opt"])
        self.generator.set_state(state["generator"])
        self.decoder_iteration = state["decoder_iteration"]
        self.log = list(state["log"])
        self.target_drift = list(state.get("target_drift", []))
        if state.get("targets") is not None:
            self.targets = state["targets"].to(self.device)
        return state["phase_index"], state["step"]

    # ---- the loop ------------------------------------------------------------------------
    def run(self, checkpoint=None, resume: dict | None = None, progress: bool = True) -> list[dict]:
        """Train all phases; ``checkpoint(state_dict)`` is called every ``checkpoint_every`` steps
        and after every phase; ``resume`` is such a state to continue from."""
        phases = self.phases()
        start_phase, start_step = self.load_state(resume) if resume is not None else (0, 0)
        total = sum(steps for _, _, steps in phases)
        done = sum(steps for _, _, steps in phases[:start_phase]) + start_step
        bar = progress_bar(total=total, initial=done, disable=not progress, desc="stylize")
        clock = PhaseClock()
        for phase_index in range(start_phase, len(phases)):
            round_index, phase, steps = phases[phase_index]
            first = start_step if phase_index == start_phase else 0
            use_mimic = self.s["mutual"] and round_index > 0 and self.s["mimic_2d_weight"] > 0
            if phase == "decoder":
                self.decoder.train()
                if use_mimic and self.nerf_renders is None and self.s["mimic_2d_pixels"] <= 0:
                    self.nerf_renders = self.render_training_views()
                    clock.lap("NeRF renders")
            elif first == 0 or self.targets is None:  # (resumed within a NeRF phase: its targets are restored)
                self._new_targets(round_index)  # the decoder as it stands after its phase
                clock.lap("2D targets")
            pending: list[tuple[dict, dict]] = []
            for step in range(first, steps):
                record = self.decoder_step(use_mimic) if phase == "decoder" else self.nerf_step()
                pending.append((record, {"round": round_index, "phase": phase, "step": step}))
                bar.update(1)
                saving = checkpoint is not None and (step + 1) % self.s["checkpoint_every"] == 0 and step + 1 < steps
                if saving or (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
                    self._flush(pending)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in self.log[-1].items() if k in ("loss", "co", "mimic")})
                if saving:
                    checkpoint(self.state(phase_index, step + 1))
            clock.lap(f"{phase} steps")
            if phase == "nerf" and self.s["mutual"]:
                self.nerf_renders = None  # re-rendered lazily by the next decoder phase
            if checkpoint is not None:
                checkpoint(self.state(phase_index + 1, 0))
                clock.lap("checkpoints")
        bar.close()
        if self.targets is None:
            self.targets = self.stylize_views()
            clock.lap("2D targets")
        self.phase_seconds = clock.totals()
        return self.log

    def _new_targets(self, round_index: int) -> None:
        targets = self.stylize_views()
        if self.targets is not None:
            self.target_drift.append({"round": round_index, **target_drift(targets, self.targets)})
        self.targets = targets

    def _flush(self, pending: list[tuple[dict, dict]]) -> None:
        flush_losses(pending, self.log)

    @torch.no_grad()
    def fit(self) -> dict:
        """The trained NeRF against its final 2D targets on the training views: with each view's
        code (what L_mimic trains), and with the style's mean latent (what a rendered path uses;
        the gap shows how much the per-view codes carry that novel views do not get).

        Over :data:`FIT_PIXELS` training pixels drawn with their own seed (all of them when there
        are fewer): a sampling error of ~0.1 dB at most, where rendering every training view twice
        cost a CPU demo job ~27 s (the style grid's eager lookups)."""
        V, (H, W) = self.views.count, self.views.size
        total = V * H * W
        if total <= FIT_PIXELS:
            index = torch.arange(total)
        else:
            index = torch.randperm(total, generator=torch.Generator().manual_seed(0))[:FIT_PIXELS]
        index = index.to(self.device)
        view, pixel = index // (H * W), index % (H * W)
        v, u = pixel // W, pixel % W
        target = self.targets[view, v, u]
        out = {}
        for prefix, codes in (("mimic", self.latents(view)), ("mean_latent", self.latents.mean().expand(len(view), -1))):
            rgb = torch.cat([self.field.render_pixels(*(t[k:k + self.s["chunk"]] for t in (view, v, u, codes)),
                                                      padded=False)
                             for k in range(0, len(view), self.s["chunk"])]).clamp(0, 1)
            score = mimic_psnr(rgb, target)
            out[f"{prefix}_mse"], out[f"{prefix}_psnr"] = score["mimic_mse"], score["mimic_psnr"]
        return out

    def export(self) -> dict:
        """What ``render`` needs: the style module, its shape, and the latents."""
        return self.field.export()


def flush_losses(pending: list[tuple[dict, dict]], log: list[dict]) -> None:
    """Move the steps' loss tensors (``pending``: (losses, where) per step) into ``log`` as floats,
    each row with its ``where`` keys: one host sync for many steps. Steps may log different
    losses (the 3D style term is not in every step)."""
    if not pending:
        return
    values = iter(torch.stack([v.float().reshape(()) for losses, _ in pending for v in losses.values()]).tolist())
    for losses, where in pending:
        log.append({**{k: next(values) for k in losses}, **where})
    pending.clear()
