"""The pre-trained NeRF as the stylized NeRF sees it: frozen geometry, nothing trainable.

A thin adapter over ``stylizednerf.nerf.render`` (``load_nerf``, ``render_camera`` and
``NerfModel.sample_geometry``), so that the trainer and renderer depend on three calls only:

* ``sample(origins, directions)`` -> ``.weights`` (R, S), ``.features`` (R, S, F), ``.depth`` (R,),
  ``.positions`` (R, S, 3)
  for world rays (cameras.json frame, directions with camera z = 1), deterministic sampling;
* ``render_camera(camera)`` -> the unstylized RGB, z-depth and world points of a view;
  ``render_camera_with_median(camera)`` -> its RGB, expected and median z-depth (the path render);
* ``train_indices(n)`` / ``test_indices(n)``: the NeRF's hold-out split (every k-th view).

Every parameter of the NeRF is frozen (``requires_grad_(False)``) and the model stays in eval
mode, so neither the style module's optimiser nor a stray backward pass can touch the density.
"""

from dataclasses import dataclass

import torch


@dataclass
class GeometrySamples:
    weights: torch.Tensor  # (R, S) volume-rendering weights of the frozen density
    features: torch.Tensor  # (R, S, F) per-sample geometry features (bf16 under CUDA autocast)
    depth: torch.Tensor  # (R,) expected z-depth
    positions: torch.Tensor  # (R, S, 3) float32 sample positions in the field's unit cube


class FrozenField:
    def __init__(self, model, chunk: int = 65536):
        self.model = model.eval().requires_grad_(False)
        self.chunk = chunk

    @property
    def feature_dim(self) -> int:
        return int(self.model.feature_dim)

    @property
    def background(self) -> float:
        return float(getattr(self.model, "background", 0.0))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def sample(self, origins: torch.Tensor, directions: torch.Tensor) -> GeometrySamples:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            if self.fused:
                return self._sample_fused(origins, directions)
            geo = self.model.sample_geometry(origins, directions)
        return GeometrySamples(geo["weights"].float(), geo["features"], geo["depth"].float(), geo["positions"].float())

    @property
    def fused(self) -> bool:
        return getattr(self.model, "kind", None) == "fast" and hasattr(self.model.field, "encoding")

    def _sample_fused(self, origins: torch.Tensor, directions: torch.Tensor) -> GeometrySamples:
        """``sample_geometry`` for the hash-grid field with one hash encoding per sample instead of
        two: its geometry features ARE the encoding that its density MLP reads, and the lookups are
        most of the rendering time. Same numbers (tests/test_stylize_training.py checks)."""
        from stylizednerf.nerf.density_kernel import density_or_none
        from stylizednerf.nerf.fields import trunc_exp
        from stylizednerf.nerf.rendering import expected_parameter, render_weights
        from stylizednerf.nerf.weights_kernel import weights_or_none

        model = self.model
        rays = model.scene_rays(origins, directions)
        edges, _ = model.sample_edges(rays, jitter=False)
        x = model.unit_points(rays, edges)
        b, n = x.shape[:2]
        encoding = model.field.encoding(x.reshape(-1, 3))
        sigma = density_or_none(model.field.density_mlp, encoding)  # one Triton kernel on CUDA
        if sigma is None:
            sigma = trunc_exp(model.field.density_mlp(encoding).float()[:, 0] - 1.0)
        sigma = sigma.reshape(b, n)
        deltas = model.space.deltas(rays, edges)
        fused = weights_or_none(sigma, deltas, edges)  # one Triton kernel on CUDA
        if fused is not None:
            weights, s = fused
        else:
            weights = render_weights(sigma, deltas)
            s = expected_parameter(weights, edges)
        depth = model.space.depth(rays, s[:, None])[:, 0]
        # features stay as the lookup made them: bf16 under CUDA autocast (what the style MLP reads)
        return GeometrySamples(weights.float(), encoding.reshape(b, n, -1), depth.float(), x.float())

    @torch.no_grad()
    def render_camera(self, camera):
        from stylizednerf.nerf.render import render_camera

        out = render_camera(self.model, camera, self.chunk)
        return out["rgb"], out["depth"], out["points"]

    @torch.no_grad()
    def render_camera_with_median(self, camera):
        """The unstylized RGB, expected z-depth and median z-depth (where half of each ray's mass
        is reached) of a view: the evaluation warps with both."""
        from stylizednerf.nerf.render import render_camera

        out = render_camera(self.model, camera, self.chunk)
        return out["rgb"], out["depth"], out["median_depth"]

    def holdout_every(self) -> int:
        return int(self.model.cfg.get("holdout_every", 0) or 0)

    def test_indices(self, count: int) -> list[int]:
        """The NeRF's held-out views (LLFF convention: 0, k, 2k, ...; none when k = 0)."""
        from stylizednerf.nerf.train import split_views

        return list(split_views(count, self.holdout_every())[1])

    def train_indices(self, count: int) -> list[int]:
        from stylizednerf.nerf.train import split_views

        return list(split_views(count, self.holdout_every())[0])


def load_field(path, device="cpu") -> FrozenField:
    from stylizednerf.nerf.render import load_nerf

    try:
        return FrozenField(load_nerf(path, device))
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
