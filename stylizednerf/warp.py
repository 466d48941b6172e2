"""Depth-based warping between two views: backward warp (metrics) and forward z-buffer splat (L_co).

Cameras follow ``cameras.json`` (see :mod:`stylizednerf.cameras`): intrinsics ``K`` (3x3),
camera-to-world ``c2w`` (4x4) in OpenCV axes, pixel (u, v) centred at (u + 0.5, v + 0.5), depth =
z-depth. Everything here is batched over a leading dimension B (a single view may omit it) and
keeps images channel-last: images (B, H, W, C), depths (B, H, W), K (B, 3, 3), c2w (B, 4, 4).

Two directions, because the two users need different things:

* :func:`backward_warp` (evaluation): for every pixel of view j, unproject with depth_j, project
  into view i and bilinearly sample image i there. Every pixel of j gets a value or is masked,
  with no holes; occlusion is detected by comparing the projected z with depth_i sampled at the
  same place.
* :func:`forward_splat` (L_co, METHOD.md 5): lift every pixel of view i with depth_i, project
  into view j and write its colour to the nearest pixel, keeping the nearest point when several
  land on one pixel (a z-buffer). Differentiable with respect to image i, which is what the
  decoder's consistency loss needs. Occlusion is detected in 3D: the splatted point must lie
  close to view j's own 3D point at that pixel, as in the official code.
"""

import torch
import torch.nn.functional as F

from stylizednerf.pinhole import pixel_grid, project, unproject

# Relative depth tolerance of the backward warp's occlusion test: a pixel counts as visible in
# view i when |z - depth_i(u, v)| < DEPTH_TOLERANCE * z. NeRF expected depth is smooth but noisy
# by a few percent on real scenes; 5% keeps surfaces and rejects the jump to an occluder, which
# on the scenes here (LLFF, demo) is a depth change of well over 10%.
DEPTH_TOLERANCE = 0.05
# Distance threshold of the forward splat's 3D test, relative to view j's depth at the pixel:
# |X_i - X_j| < POINT_TOLERANCE * depth_j. Nearest-pixel rounding alone moves a point by at most
# ~0.7 px, i.e. 0.7 / f relative (< 0.01 for f > 70 px); the official code uses 0.05 in its
# (normalised) space.
POINT_TOLERANCE = 0.05


def _batched(*tensors_and_ndims):
    """Add a leading batch dimension where a tensor has ``ndim`` dims; report whether any was added."""
    out, added = [], False
    for t, ndim in tensors_and_ndims:
        if t.dim() == ndim:
            t, added = t.unsqueeze(0), True
        out.append(t)
    return out, added


def unproject_depth(depth: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor) -> torch.Tensor:
    """World points (B, H, W, 3) of every pixel centre of depth maps (B, H, W)."""
    B, H, W = depth.shape
    uv = pixel_grid(H, W, device=depth.device, dtype=depth.dtype)  # (H, W, 2), shared by the B views
    return unproject(uv, depth, K.reshape(B, 1, 1, 3, 3), c2w.reshape(B, 1, 1, 4, 4))


def project_points(points: torch.Tensor, K: torch.Tensor, c2w: torch.Tensor):
    """Pixel coordinates (B, H, W, 2) and z-depth (B, H, W) of world points (B, H, W, 3)."""
    B = points.shape[0]
    return project(points, K.reshape(B, 1, 1, 3, 3), c2w.reshape(B, 1, 1, 4, 4))


def _valid_depth(depth: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(depth) & (depth > 0)


def backward_warp(image_i, depth_i, K_i, c2w_i, depth_j, K_j, c2w_j, depth_tolerance: float = DEPTH_TOLERANCE):
    """Image i seen from view j: ``(warped (B, Hj, Wj, C), mask (B, Hj, Wj) bool)``.

    For each pixel of view j: unproject with depth_j, project into view i, sample image i
    bilinearly. ``mask`` is True where the point lies in front of camera i, inside image i, and
    is not occluded there: |z_i - depth_i(u_i, v_i)| < depth_tolerance * z_i, with depth_i sampled
    bilinearly (across a depth edge the blend matches neither side, so edge pixels are masked
    too, which errs on the safe side). Masked pixels of ``warped`` hold whatever was sampled.
    """
    (image_i, depth_i, K_i, c2w_i, depth_j, K_j, c2w_j), added = _batched(
        (image_i, 3), (depth_i, 2), (K_i, 2), (c2w_i, 2), (depth_j, 2), (K_j, 2), (c2w_j, 2))
    dtype = image_i.dtype if image_i.is_floating_point() else torch.float32
    depth_i, depth_j = depth_i.to(dtype), depth_j.to(dtype)
    K_i, c2w_i, K_j, c2w_j = (t.to(dtype=dtype, device=image_i.device) for t in (K_i, c2w_i, K_j, c2w_j))
    Hi, Wi = image_i.shape[1:3]

    valid_j = _valid_depth(depth_j)
    points = unproject_depth(torch.where(valid_j, depth_j, torch.ones_like(depth_j)), K_j, c2w_j)
    uv, z = project_points(points, K_i, c2w_i)

    # grid_sample with align_corners=False maps -1/+1 to the outer image edges, so pixel centre
    # u + 0.5 sits at (u + 0.5) / W * 2 - 1: exactly the COLMAP pixel convention.
    grid = torch.stack([uv[..., 0] / Wi * 2 - 1, uv[..., 1] / Hi * 2 - 1], dim=-1)
    warped = F.grid_sample(image_i.to(dtype).permute(0, 3, 1, 2), grid, mode="bilinear",
                           padding_mode="border", align_corners=False).permute(0, 2, 3, 1)
    valid_i = _valid_depth(depth_i)
    sampled_depth = F.grid_sample(torch.where(valid_i, depth_i, torch.zeros_like(depth_i)).unsqueeze(1), grid,
                                  mode="bilinear", padding_mode="border", align_corners=False)[:, 0]

    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= Wi) & (uv[..., 1] >= 0) & (uv[..., 1] <= Hi)
    visible = (sampled_depth - z).abs() < depth_tolerance * z
    mask = valid_j & (z > 0) & inside & visible
    if added:
        warped, mask = warped[0], mask[0]
    return warped, mask


def forward_splat(image_i, depth_i, K_i, c2w_i, depth_j, K_j, c2w_j, point_tolerance: float = POINT_TOLERANCE,
                  height: int | None = None, width: int | None = None):
    """Image i splatted into view j with a z-buffer: ``(warped (B, Hj, Wj, C), mask (B, Hj, Wj) bool)``.

    Each pixel of view i is lifted to 3D with depth_i, projected into view j and written to the
    pixel containing its projection (nearest pixel); where several land on one pixel the one with
    the smallest z wins (ties: lowest source index). ``mask`` = the pixel was hit AND the winning
    3D point X_i lies within ``point_tolerance * depth_j`` of view j's own point X_j at that pixel
    (unprojected with depth_j); this removes points of view i that are hidden in view j behind a
    surface view i cannot see, and hits on pixels whose own surface is elsewhere. Unmasked pixels
    of ``warped`` are 0. Gradients flow to ``image_i``.
    """
    (image_i,), added = _batched((image_i, 3))
    dtype = image_i.dtype if image_i.is_floating_point() else torch.float32
    source, mask = splat_correspondence(depth_i, K_i, c2w_i, depth_j, K_j, c2w_j, point_tolerance, dtype,
                                        device=image_i.device)
    if source.shape[0] != image_i.shape[0]:  # one geometry for a batch of images
        source, mask = source.expand(image_i.shape[0], -1), mask.expand(image_i.shape[0], -1, -1)
    warped = gather_splat(image_i.to(dtype), source, mask)
    if added:
        warped, mask = warped[0], mask[0]
    return warped, mask


def splat_correspondence(depth_i, K_i, c2w_i, depth_j, K_j, c2w_j, point_tolerance: float = POINT_TOLERANCE,
                         dtype=torch.float32, device=None):
    """The geometry of :func:`forward_splat`: ``(source (B, Hj * Wj) long, mask (B, Hj, Wj) bool)``.

    ``source`` = the pixel of view i (flat index ``v * Wi + u``) that wins each pixel of view j
    (0 where nothing does), ``mask`` = where the splat counts. Neither depends on the image, so
    with frozen depth they can be computed once per view pair and reused (:func:`gather_splat`).
    """
    (depth_i, K_i, c2w_i, depth_j, K_j, c2w_j), _ = _batched(
        (depth_i, 2), (K_i, 2), (c2w_i, 2), (depth_j, 2), (K_j, 2), (c2w_j, 2))
    device = device if device is not None else depth_i.device
    depth_i, depth_j = depth_i.to(dtype=dtype, device=device), depth_j.to(dtype=dtype, device=device)
    K_i, c2w_i, K_j, c2w_j = (t.to(dtype=dtype, device=device) for t in (K_i, c2w_i, K_j, c2w_j))
    B, Hi, Wi = depth_i.shape
    Hj, Wj = depth_j.shape[1:3]

    valid_i = _valid_depth(depth_i)
    points_i = unproject_depth(torch.where(valid_i, depth_i, torch.ones_like(depth_i)), K_i, c2w_i)
    uv, z = project_points(points_i, K_j, c2w_j)
    # pixel (u, v) covers [u, u+1) x [v, v+1): the nearest pixel centre is floor of the coordinate
    u = torch.floor(uv[..., 0]).long()
    v = torch.floor(uv[..., 1]).long()
    ok = valid_i & (z > 0) & (u >= 0) & (u < Wj) & (v >= 0) & (v < Hj) & torch.isfinite(z)

    n_source, n_target = Hi * Wi, Hj * Wj
    batch = torch.arange(B, device=device).view(B, 1, 1)
    target = torch.where(ok, batch * n_target + v.clamp(0, Hj - 1) * Wj + u.clamp(0, Wj - 1),
                         torch.zeros_like(u)).reshape(-1)
    ok_flat = ok.reshape(-1)
    z_flat = torch.where(ok, z, torch.full_like(z, float("inf"))).reshape(-1).detach()

    # z-buffer in two scatter passes: nearest z per target pixel, then the lowest source index
    # among the sources at that z (exact ties are rare but must not blend two sources)
    zbuf = torch.full((B * n_target,), float("inf"), dtype=z_flat.dtype, device=device)
    zbuf = zbuf.scatter_reduce(0, target, z_flat, reduce="amin", include_self=True)
    source_index = torch.arange(B * n_source, device=device)
    is_front = ok_flat & (z_flat == zbuf[target])
    sentinel = B * n_source
    winner = torch.full((B * n_target,), sentinel, dtype=torch.long, device=device)
    winner = winner.scatter_reduce(0, target, torch.where(is_front, source_index, torch.full_like(source_index, sentinel)),
                                   reduce="amin", include_self=True)
    hit = winner < sentinel
    safe_winner = torch.where(hit, winner, torch.zeros_like(winner))
    splatted_points = points_i.reshape(B * n_source, 3)[safe_winner]

    valid_j = _valid_depth(depth_j)
    points_j = unproject_depth(torch.where(valid_j, depth_j, torch.ones_like(depth_j)), K_j, c2w_j).reshape(-1, 3)
    close = (splatted_points.detach() - points_j).norm(dim=-1) < point_tolerance * depth_j.reshape(-1)
    mask = (hit & valid_j.reshape(-1) & close).reshape(B, Hj, Wj)
    # global winner index -> pixel index within its own source view
    source = (safe_winner.reshape(B, n_target) - torch.arange(B, device=device)[:, None] * n_source).clamp_min(0)
    source = torch.where(hit.reshape(B, n_target), source, torch.zeros_like(source))
    return source, mask


def gather_splat(image_i: torch.Tensor, source: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Images (B, Hi, Wi, C) moved by a :func:`splat_correspondence`: (B, Hj, Wj, C), 0 off the mask."""
    B, C = image_i.shape[0], image_i.shape[-1]
    Hj, Wj = mask.shape[1:]
    colours = image_i.reshape(B, -1, C).gather(1, source.long()[..., None].expand(-1, -1, C))
    return (colours * mask.reshape(B, -1, 1).to(colours.dtype)).reshape(B, Hj, Wj, C)


def masked_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference over masked pixels and channels (0 when the mask is empty)."""
    weight = mask.unsqueeze(-1).to(a.dtype)
    count = weight.sum() * a.shape[-1]
    return ((a - b) ** 2 * weight).sum() / count.clamp_min(1.0)
