"""The NeRF model: scene space + sampler + field + volume rendering.

``NerfModel.render_rays(origins, dirs)`` takes WORLD rays (cameras.json frame; directions with
camera z = 1, see rays.py) and returns colour, world z-depth and opacity per ray (outside training
also the median z-depth).
``NerfModel.sample_geometry(origins, dirs)`` returns the frozen per-sample geometry a style
module needs (see stylizednerf.nerf.render for the contract).
"""


import torch
from torch import nn

from stylizednerf.nerf.fields import FastField, MLPField
from stylizednerf.nerf.rays import Rays, SceneSpace
from stylizednerf.nerf.rendering import composite, distortion_loss, expected_parameter, median_value, render_weights
from stylizednerf.nerf.samplers import DensityGrid, merge_edges, pdf_edges, uniform_edges
from stylizednerf.settings import NerfSettings

# Defaults of the `nerf:` config section: the schema's, through the typed settings (GPU sizes).
DEFAULTS = NerfSettings().to_dict()


def resolve_config(settings: dict | None) -> dict:
    """The schema's defaults overlaid with ``settings`` (nested dicts merged); an unknown key raises
    :class:`stylizednerf.settings.SettingsError` naming it."""
    cfg = NerfSettings.from_dict(settings).to_dict()
    if cfg["fast"]["grid_sampling"] not in ("transmittance", "alpha"):
        raise ValueError("nerf settings: fast.grid_sampling must be transmittance or alpha")
    if cfg["field"] not in ("fast", "mlp"):
        raise ValueError(f"nerf settings: field must be fast or mlp, not '{cfg['field']}'")
    return cfg


class NerfModel(nn.Module):
    def __init__(self, space: SceneSpace, cfg: dict):
        super().__init__()
        self.space = space
        self.cfg = cfg
        self.kind = cfg["field"]
        self.background = float(cfg.get("background", 0.0))
        f = cfg[self.kind]
        self.field_cfg = f
        # the scene transform as device buffers: no host-to-device copies inside a training step
        self.register_buffer("world_to_scene", torch.tensor(space.world_to_scene, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("bbox_lo", torch.tensor(space.bbox[0]), persistent=False)
        self.register_buffer("bbox_hi", torch.tensor(space.bbox[1]), persistent=False)
        if self.kind == "fast":
            self.field = FastField(f["levels"], f["features_per_level"], f["log2_table"], f["base_resolution"],
                                   f["max_resolution"], f["hidden"])
            self.grid = DensityGrid(f["grid_resolution"], f["grid_decay"])
        else:
            self.field = MLPField(f["depth"], f["width"], f["pos_frequencies"], f["dir_frequencies"])
            self.coarse_field = MLPField(f["depth"], f["width"], f["pos_frequencies"], f["dir_frequencies"])
        self._compiled_density = None

    def _grid_density(self):
        """The field's density for grid updates: compiled on CUDA when ``compile`` is on (see
        nerf/compiled.py), since an eager update of the 128^3 grid costs as much as ~10 training steps."""
        if self._compiled_density is None:
            from stylizednerf.nerf.compiled import MaybeCompiled, compile_wanted

            wanted = compile_wanted(self, self.world_to_scene.device)
            self._compiled_density = MaybeCompiled(self.field.density, wanted, "the grid update")
        return self._compiled_density

    def to(self, *args, **kwargs):
        self._compiled_density = None  # compiled code is specialised to a device
        return super().to(*args, **kwargs)

    @property
    def feature_dim(self) -> int:
        return self.field.feature_dim

    def scene_rays(self, origins: torch.Tensor, dirs: torch.Tensor) -> Rays:
        """World rays (cameras.json frame) in the scene's space (NDC or contracted)."""
        return self.space.rays(origins.float(), dirs.float(), self.world_to_scene)

    def unit_points(self, rays: Rays, edges: torch.Tensor) -> torch.Tensor:
        """(B, n, 3) the midpoints of the intervals ``edges`` (B, n+1) in the field's unit cube."""
        mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
        return self.space.to_unit_cube(self.space.points(rays, mids), self.bbox_lo, self.bbox_hi)

    def _query(self, field, rays: Rays, edges: torch.Tensor):
        x = self.unit_points(rays, edges)
        b, n = x.shape[:2]
        d = rays.view_dirs[:, None, :].expand(b, n, 3)
        sigma, rgb = field(x.reshape(-1, 3), d.reshape(-1, 3))
        return x, sigma.reshape(b, n), rgb.reshape(b, n, 3)

    def sample_edges(self, rays: Rays, jitter: bool) -> tuple[torch.Tensor, dict]:
        """Edges (B, n+1) where the main field is queried, plus coarse outputs (mlp only)."""
        f = self.field_cfg
        batch = rays.origins.shape[0]
        if self.kind == "fast":
            from stylizednerf.nerf.sample_kernel import edges_or_none

            fused = edges_or_none(self, rays, jitter)  # rendering on CUDA: one kernel, same edges
            if fused is not None:
                return fused, {}
        coarse = uniform_edges(batch, f["coarse_samples"], rays.origins.device, jitter)
        if self.kind == "fast":
            sigma = self.grid.query(self.unit_points(rays, coarse))
            deltas = self.space.deltas(rays, coarse)
            if f["grid_sampling"] == "alpha":
                # every occupied stretch of the ray, not only the first one the (upper-bound) grid
                # calls opaque: the field's own transmittance decides what is visible
                weights = 1.0 - torch.exp(-sigma.float() * deltas.float())
            else:
                weights = render_weights(sigma, deltas)
            return pdf_edges(coarse, weights, f["samples"], jitter, f["uniform_fraction"]), {}
        _, sigma, rgb = self._query(self.coarse_field, rays, coarse)
        weights = render_weights(sigma, self.space.deltas(rays, coarse))
        fine = pdf_edges(coarse, weights, f["samples"], jitter)
        extra = {"coarse_rgb": composite(weights, rgb, self.background)}
        return merge_edges(coarse, fine.detach()), extra

    def render_rays(self, origins: torch.Tensor, dirs: torch.Tensor, training: bool = False,
                    background: torch.Tensor | None = None) -> dict:
        """rgb (B,3), depth (B,) world z-depth, acc (B,) opacity; + coarse_rgb for mlp. Outside
        training also median_depth (B,): the z-depth where half of the ray's mass is reached (the
        evaluation's second warp, see :func:`stylizednerf.nerf.rendering.median_value`).

        ``background`` (B, 3) replaces the configured background colour (random in training)."""
        bg = self.background if background is None else background
        rays = self.scene_rays(origins, dirs)
        edges, out = self.sample_edges(rays, jitter=training)
        _, sigma, rgb = self._query(self.field, rays, edges)
        weights = render_weights(sigma, self.space.deltas(rays, edges))
        s = expected_parameter(weights, edges)
        if training and self.field_cfg.get("distortion_weight", 0.0):
            out["distortion"] = distortion_loss(weights, edges)
        out.update(rgb=composite(weights, rgb, bg),
                   depth=self.space.depth(rays, s[:, None])[:, 0], acc=weights.sum(-1))
        if not training:  # the training step never reads it: its cost stays as it was
            mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
            s_median = median_value(weights.float(), mids.float())
            out["median_depth"] = self.space.depth(rays, s_median[:, None])[:, 0]
        return out

    @torch.no_grad()
    def sample_geometry(self, origins: torch.Tensor, dirs: torch.Tensor, jitter: bool = False) -> dict:
        """Frozen per-sample geometry for a batch of world rays (see stylizednerf.nerf.render)."""
        rays = self.scene_rays(origins, dirs)
        edges, _ = self.sample_edges(rays, jitter=jitter)
        x = self.unit_points(rays, edges)
        b, n = x.shape[:2]
        sigma = self.field.density(x.reshape(-1, 3)).reshape(b, n)
        weights = render_weights(sigma, self.space.deltas(rays, edges))
        features = self.field.geometry_features(x.reshape(-1, 3)).float().reshape(b, n, -1)
        mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
        tau = self.space.depth(rays, mids)
        points = rays.origins[:, None, :] + tau[..., None] * rays.dirs[:, None, :]
        s = expected_parameter(weights, edges)
        return {"weights": weights, "features": features, "positions": x, "points": points,
                "sample_depth": tau, "depth": self.space.depth(rays, s[:, None])[:, 0],
                "acc": weights.sum(-1), "view_dirs": rays.view_dirs}

    @torch.no_grad()
    def update_grid(self) -> None:
        if self.kind == "fast":
            self.grid.update(self._grid_density())
