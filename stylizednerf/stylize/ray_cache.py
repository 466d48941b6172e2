"""The frozen geometry of every training pixel, computed once per stylize job.

The geometry does not change while the style module trains, yet a style-module step spent most
of its time re-sampling it: coarse grid, PDF sampling and the hash-grid lookup of 4096 x 48
points. Here every training pixel is sampled once; only the samples the style MLP would see
(weight above the threshold; ~39 of 48 per ray on fern) are kept, packed ray after ray, with each
ray's start and count. A step then gathers its rays' samples and runs the MLP: the same numbers
as sampling on the spot (test), a fraction of the work. Memory is bounded by ``max_bytes``; past it the stylizer samples on the spot.

A surface-shading module (:mod:`.style_module`: it runs once per ray at the ray's composited
surface point) needs no samples at all: :class:`SurfaceRayCache` keeps each ray's composited
inputs (features, position, opacity, leftover: on fern ~84 bytes a ray instead of ~39 samples of
~80 bytes), and a step only indexes its rays' rows. :func:`cache_training_views` builds the kind
the module needs.
"""

import torch

from stylizednerf.stylize.rays import image_rays
from stylizednerf.stylize.style_module import composite_kept, shade_surface, surface_points


def view_chunks(geometry, K: torch.Tensor, c2w: torch.Tensor, height: int, width: int, chunk: int):
    """The frozen samples of every pixel of the views ``K`` (V, 3, 3), ``c2w`` (V, 4, 4), ``chunk``
    rays at a time (view-major, then row-major pixels; a chunk does not cross views)."""
    for view in range(K.shape[0]):
        origins, directions = image_rays(K[view].float(), c2w[view].float(), height, width)
        for first in range(0, origins.shape[0], chunk):
            yield geometry.sample(origins[first:first + chunk], directions[first:first + chunk])


class RayGeometryCache:
    def __init__(self, features: torch.Tensor, weights: torch.Tensor, start: torch.Tensor, count: torch.Tensor,
                 leftover: torch.Tensor, positions: torch.Tensor | None = None):
        self.features = features  # (K, F) kept samples' geometry features, ray after ray
        self.positions = positions  # (K, 3) float32 their unit-cube positions (for a module's own encoding), or None
        self.weights = weights  # (K,) their volume-rendering weights
        self.start = start  # (N,) each ray's first sample (rays: view-major, then row-major pixels)
        self.count = count  # (N,) its number of kept samples
        self.leftover = leftover  # (N,) 1 - sum of all its weights: where the background shows
        self._slots = None

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.features, self.weights, self.start, self.count,
                                                           self.leftover, self.positions) if t is not None)

    @classmethod
    @torch.no_grad()
    def build(cls, geometry, K: torch.Tensor, c2w: torch.Tensor, height: int, width: int, threshold: float,
              chunk: int, max_bytes: int, feature_dtype: torch.dtype = torch.float32, two_passes: bool | None = None,
              positions: bool = False):
        """The cache of views with intrinsics ``K`` (V, 3, 3) and poses ``c2w`` (V, 4, 4), or None
        when it would exceed ``max_bytes``; with the samples' ``positions`` too when asked.

        On a GPU, two passes over the views: the first counts each ray's kept samples, the second
        writes them into buffers of the exact size (sampling twice costs ~0.2 s for fern on an
        H100, where keeping per-chunk pieces for a final concatenation would need twice the cache's
        memory). On a CPU, where sampling is the slow part, one pass keeps the pieces
        (``two_passes`` None: by device)."""

        def chunks():
            for samples in view_chunks(geometry, K, c2w, height, width, chunk):
                keep = samples.weights > threshold
                ray_index, sample_index = keep.nonzero(as_tuple=True)
                yield (keep.sum(1), samples.features[ray_index, sample_index], samples.weights[ray_index, sample_index],
                       1.0 - samples.weights.float().sum(-1),
                       samples.positions[ray_index, sample_index] if positions else None)

        two_passes = K.device.type == "cuda" if two_passes is None else two_passes
        bytes_per_sample = geometry.feature_dim * torch.empty(0, dtype=feature_dtype).element_size() + 4 + 12 * positions
        counts, pieces, kept = [], [], 0
        for piece in chunks():
            counts.append(piece[0])
            if not two_passes:
                pieces.append(piece)
                kept += piece[2].shape[0]
                if kept * bytes_per_sample > max_bytes:
                    return None
        count = torch.cat(counts)
        total, rays = int(count.sum()), count.shape[0]
        if total * bytes_per_sample + rays * 24 > max_bytes:
            return None
        features = torch.empty(total, geometry.feature_dim, dtype=feature_dtype, device=count.device)
        weights = torch.empty(total, dtype=torch.float32, device=count.device)
        leftover = torch.empty(rays, dtype=torch.float32, device=count.device)
        where = torch.empty(total, 3, dtype=torch.float32, device=count.device) if positions else None
        sample_at = ray_at = 0
        for _, kept_features, kept_weights, ray_leftover, kept_positions in (chunks() if two_passes else pieces):
            n, m = kept_weights.shape[0], ray_leftover.shape[0]
            features[sample_at:sample_at + n] = kept_features
            weights[sample_at:sample_at + n] = kept_weights
            if positions:
                where[sample_at:sample_at + n] = kept_positions
            leftover[ray_at:ray_at + m] = ray_leftover
            sample_at, ray_at = sample_at + n, ray_at + m
        start = torch.cumsum(count, 0) - count
        return cls(features, weights, start, count, leftover, where)

    @property
    def samples_per_ray(self) -> float:
        """Kept samples per ray: the style module's runs per ray."""
        return self.weights.shape[0] / max(self.count.shape[0], 1)

    def gather(self, rays: torch.Tensor):
        """(ray_index into ``rays`` (K,), features (K, F), weights (K,), positions (K, 3) or None) of
        the kept samples of ``rays`` (R,)."""
        count = self.count[rays]
        first = torch.cumsum(count, 0) - count  # where each ray's samples go in the output
        total = int(count.sum())  # one host sync: the output size
        ray_index = torch.repeat_interleave(torch.arange(rays.shape[0], device=rays.device), count, output_size=total)
        sample = self.start[rays][ray_index] + torch.arange(total, device=rays.device) - first[ray_index]
        return (ray_index, self.features[sample], self.weights[sample],
                None if self.positions is None else self.positions[sample])

    @property
    def slots(self) -> int:
        """The most kept samples of any ray: the width of :meth:`gather_padded`."""
        if self._slots is None:
            self._slots = int(self.count.max()) if self.count.numel() else 0
        return self._slots

    def gather_padded(self, rays: torch.Tensor):
        """(features (R, slots, F), weights (R, slots), positions (R, slots, 3) or None) of rays (R,),
        padded with zero weights.

        Fixed shapes and no host sync, unlike :meth:`gather`: a training step can be queued on the
        GPU while the previous one runs. The padding costs little (most rays keep most samples)."""
        slot = torch.arange(self.slots, device=rays.device)
        sample = (self.start[rays][:, None] + slot).clamp(max=max(self.weights.shape[0] - 1, 0))
        used = slot < self.count[rays][:, None]
        positions = None if self.positions is None else self.positions[sample]
        return self.features[sample], torch.where(used, self.weights[sample], 0.0), positions

    def render_padded(self, module, rays: torch.Tensor, latents: torch.Tensor, background: float | None):
        """:meth:`render` through :meth:`gather_padded`: the same colours, for training steps."""
        features, weights, positions = self.gather_padded(rays)
        rgb = module(module.inputs(features, positions), latents)
        out = (weights.unsqueeze(-1).to(rgb.dtype) * rgb).sum(1)
        if background is not None:
            out = out + self.leftover[rays].unsqueeze(-1).to(out.dtype) * background
        return out

    def render(self, module, rays: torch.Tensor, latents: torch.Tensor, background: float | None) -> torch.Tensor:
        """Stylized colours (R, 3) of cached rays ``rays`` (R,) with codes ``latents`` (R, D)."""
        ray_index, features, weights, positions = self.gather(rays)
        return composite_kept(module, features, weights, ray_index, latents, self.leftover[rays], background, positions)


class SurfaceRayCache:
    """The training pixels' composited inputs of a surface-shading module (:func:`.style_module.
    surface_points`), one row per ray (view-major, then row-major pixels): no samples, so a
    gather is an index and :meth:`render` needs no host sync (it serves the training steps'
    :meth:`render_padded` too)."""

    def __init__(self, features: torch.Tensor, positions: torch.Tensor | None, opacity: torch.Tensor,
                 leftover: torch.Tensor):
        self.features = features  # (N, F) the kept samples' weighted mean feature ((N, 0): the module reads none)
        self.positions = positions  # (N, 3) float32 their weighted mean unit-cube position, or None (no own encoding)
        self.opacity = opacity  # (N,) the sum of the kept samples' weights
        self.leftover = leftover  # (N,) 1 - sum of all the ray's weights: where the background shows

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.features, self.positions, self.opacity, self.leftover)
                   if t is not None)

    @property
    def samples_per_ray(self) -> float:
        """The style module's runs per ray: one."""
        return 1.0

    @classmethod
    @torch.no_grad()
    def build(cls, geometry, K: torch.Tensor, c2w: torch.Tensor, height: int, width: int, threshold: float,
              chunk: int, max_bytes: int, feature_dtype: torch.dtype = torch.float32, features: bool = True,
              positions: bool = False):
        """The cache of views with intrinsics ``K`` (V, 3, 3) and poses ``c2w`` (V, 4, 4), or None
        when it would exceed ``max_bytes`` (known before sampling: a fixed size per ray); with the
        composited ``features`` and ``positions`` as the module reads them. One pass."""
        rays = K.shape[0] * height * width
        feature_dim = geometry.feature_dim if features else 0
        bytes_per_ray = feature_dim * torch.empty(0, dtype=feature_dtype).element_size() + 12 * positions + 8
        if rays * bytes_per_ray > max_bytes:
            return None
        device = K.device
        out_features = torch.empty(rays, feature_dim, dtype=feature_dtype, device=device)
        out_positions = torch.empty(rays, 3, dtype=torch.float32, device=device) if positions else None
        opacity = torch.empty(rays, dtype=torch.float32, device=device)
        leftover = torch.empty(rays, dtype=torch.float32, device=device)
        at = 0
        for samples in view_chunks(geometry, K, c2w, height, width, chunk):
            n = samples.weights.shape[0]
            point_features, point_positions, point_opacity = surface_points(
                samples.weights, samples.features, samples.positions, threshold, features, positions)
            out_features[at:at + n] = point_features
            if positions:
                out_positions[at:at + n] = point_positions
            opacity[at:at + n] = point_opacity
            leftover[at:at + n] = 1.0 - samples.weights.float().sum(-1)
            at += n
        return cls(out_features, out_positions, opacity, leftover)

    def gather(self, rays: torch.Tensor):
        """(features (R, F), positions (R, 3) or None, opacity (R,), leftover (R,)) of rays (R,)."""
        return (self.features[rays], None if self.positions is None else self.positions[rays], self.opacity[rays],
                self.leftover[rays])

    def render(self, module, rays: torch.Tensor, latents: torch.Tensor, background: float | None) -> torch.Tensor:
        """Stylized colours (R, 3) of cached rays ``rays`` (R,) with codes ``latents`` (R, D) or (D,)."""
        features, positions, opacity, leftover = self.gather(rays)
        return shade_surface(module, features, positions, opacity, latents, leftover, background)

    # fixed shapes and no host sync already: the training steps' gather is the same
    render_padded = render


def cache_limit(ray_cache_bytes: int, device_type: str, free_bytes: int | None = None,
                job_gpu_mem_mb: int | None = None, reserve_mb: int = 0) -> int:
    """Bytes the ray cache may take. ``ray_cache_bytes`` caps it everywhere. On a GPU, a job that
    declared its GPU memory (``job_gpu_mem_mb``, the rule's ``resources.gpu_mem_mb``; MB = 2^20
    bytes) gets what it declared less ``reserve_mb`` for the rest of the job (models, decoder and
    VGG training, rendering chunks), and never more than is free now; a job that declared nothing
    gets at most 60 % of the free memory (the rest is for the decoder's training)."""
    limit = max(int(ray_cache_bytes or 0), 0)
    if limit == 0 or device_type != "cuda":
        return limit
    if job_gpu_mem_mb:
        limit = min(limit, max(int(job_gpu_mem_mb) - int(reserve_mb), 0) * 2 ** 20)
        return limit if free_bytes is None else min(limit, int(free_bytes))
    return limit if free_bytes is None else min(limit, int(0.6 * free_bytes))


def cache_training_views(geometry, views, settings: dict, device, positions: bool = False, surface: bool = False,
                         features: bool = True) -> RayGeometryCache | SurfaceRayCache | None:
    """The cache of every pixel of ``views`` (a TrainingViews on ``device``) under the stylize
    ``settings`` (``ray_cache_bytes``, ``ray_cache_reserve_mb``, ``sample_threshold``, ``chunk``),
    with the samples' positions when the style module encodes them; for a ``surface``-shading
    module a :class:`SurfaceRayCache` (its composited ``features`` only when the module reads
    them); None when off or too large.
    Its size on a GPU: :func:`cache_limit` of the job's declared memory (``$STYLIZEDNERF_GPU_MEM_MB``)."""
    from stylizednerf.gpu_assign import declared_gpu_mem_mb

    device = torch.device(device)
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" and settings["ray_cache_bytes"] else None
    limit = cache_limit(settings["ray_cache_bytes"], device.type, free, declared_gpu_mem_mb(),
                        settings.get("ray_cache_reserve_mb", 0))
    if limit <= 0:
        return None
    H, W = views.size
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # what the style MLP reads under autocast
    if surface:
        return SurfaceRayCache.build(geometry, views.K, views.c2w, H, W, settings["sample_threshold"],
                                     int(settings["chunk"]), limit, dtype, features=features, positions=positions)
    return RayGeometryCache.build(geometry, views.K, views.c2w, H, W, settings["sample_threshold"],
                                  int(settings["chunk"]), limit, dtype, positions=positions)
