"""The demo scene: a small forward-facing scene rendered by our own analytic ray caster.

A few textured objects (spheres, a box, a cylinder) stand on a textured floor in front of a
textured backdrop plane, lit by one directional light with hard shadows. ~20 cameras sit on an
LLFF-like grid on the plane z = 0, all looking roughly along +z (OpenCV axes: x right, y down,
z forward; the world uses the same axes, so the floor is at positive y).

Why our own renderer: the exact z-depth and the true cameras of every view are known, so later
stages can measure COLMAP's pose error and the consistency metric against ground truth.

* Rays are the project's (:mod:`stylizednerf.pinhole`): unnormalised directions with camera z
  component 1, so the ray parameter ``t`` of a hit IS the z-depth.
* Colours are averaged over ``supersample x supersample`` rays per pixel (anti-aliasing); the
  depth is that of the single ray through the pixel centre (u + 0.5, v + 0.5), never averaged,
  so unprojecting a pixel centre with its depth gives a point exactly on a surface.
* Shading is Lambertian (view independent), so a surface point has the same colour in every view.
* Textures are solid (functions of the 3D point in the object's own frame): multi-scale value
  noise, randomly coloured cells, spots, and on the planes discs and line segments. They are
  irregular on purpose, so that SIFT finds many distinctive features even at 160x120.

Everything random comes from ``numpy.random.default_rng([seed, k])``: a seed fixes the scene.
Geometry runs in float64 on the CPU (tiny images; exact and reproducible across machines).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from stylizednerf.cameras import Camera
from stylizednerf.pinhole import camera_rays, pixel_grid
from stylizednerf.progress import progress_bar

DTYPE = torch.float64  # geometry: exact depth
TEXTURE_DTYPE = torch.float32
EPS = 1e-6
FLOOR_Y = 1.3  # world y grows downwards: the floor is below the cameras (at y ~ 0)
BACKDROP_Z = 8.0
HFOV_DEG = 60.0
LOOK_AT_DEPTH = 5.5


# ---- textures ----------------------------------------------------------------------------------

_PRIMES = (73856093, 19349663, 83492791)


def _hash(cells: torch.Tensor, size: int) -> torch.Tensor:
    """Integer lattice points (..., 3) -> table indices in [0, size)."""
    h = (cells[..., 0] * _PRIMES[0]) ^ (cells[..., 1] * _PRIMES[1]) ^ (cells[..., 2] * _PRIMES[2])
    return torch.remainder(h, size)


def value_noise(points: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Smooth value noise in [0, 1] at points (N, 3): trilinear over hashed lattice values."""
    base = torch.floor(points)
    frac = points - base
    weight = frac * frac * (3.0 - 2.0 * frac)  # smoothstep: continuous derivative across cells
    cells = base.long()
    out = torch.zeros(points.shape[:-1], dtype=points.dtype)
    for corner in range(8):  # the 8 lattice corners around each point
        offset = torch.tensor([(corner >> 0) & 1, (corner >> 1) & 1, (corner >> 2) & 1])
        w = torch.where(offset.bool(), weight, 1.0 - weight).prod(dim=-1)
        out = out + w * table[_hash(cells + offset, table.numel())]
    return out


@dataclass
class Texture:
    """A solid texture: noise-blended colours, randomly coloured cells, spots, discs and lines.

    Discs and lines are 2D (first two local coordinates) and only used on the planes.
    """

    colors: torch.Tensor  # (3, 3) the object's three main colours
    frequency: float  # base noise frequency (cycles per world unit)
    cell_frequency: float
    cell_mix: float
    noise_tables: torch.Tensor  # (octaves, T) random values
    octave_offsets: torch.Tensor  # (octaves, 3) decorrelates the octaves
    cell_colors: torch.Tensor  # (T, 3)
    spots: torch.Tensor  # (S, 3) centres in local coordinates
    spot_radius: torch.Tensor  # (S,)
    spot_colors: torch.Tensor  # (S, 3)
    discs: torch.Tensor  # (D, 4) x, y, radius, inner radius ratio (0: none)
    disc_colors: torch.Tensor  # (D, 6) outer and inner colour
    lines: torch.Tensor  # (L, 5) x0, y0, x1, y1, width
    line_colors: torch.Tensor  # (L, 3)

    def __call__(self, local: torch.Tensor) -> torch.Tensor:
        """Colours (N, 3) in [0, 1] of local points (N, 3) (float32: colours need no more)."""
        local = local.to(TEXTURE_DTYPE)
        octaves = []
        for k in range(self.noise_tables.shape[0]):
            p = local * (self.frequency * 2.0**k) + self.octave_offsets[k]
            octaves.append(value_noise(p, self.noise_tables[k]))
        low = 0.6 * octaves[0] + 0.4 * octaves[1]
        high = sum(octaves[2:]) / max(1, len(octaves) - 2)
        # Two noise fields pick a blend of the three main colours (sharpened for contrast).
        a = torch.clamp((low - 0.5) * 2.5 + 0.5, 0, 1)[:, None]
        b = torch.clamp((octaves[1] - 0.5) * 3.0 + 0.5, 0, 1)[:, None]
        color = (1 - a) * self.colors[0] + a * ((1 - b) * self.colors[1] + b * self.colors[2])
        cells = torch.floor(local * self.cell_frequency).long()
        cell_color = self.cell_colors[_hash(cells, self.cell_colors.shape[0])]
        color = (1 - self.cell_mix) * color + self.cell_mix * cell_color
        detail = (0.7 + 0.6 * high)[:, None]  # fine detail: corners for SIFT at small scale
        color = color * detail
        if self.spots.shape[0]:
            dist = torch.cdist(local, self.spots)  # (N, S)
            first = torch.where(dist < self.spot_radius, torch.arange(dist.shape[1]), dist.shape[1]).min(dim=1).values
            hit = first < dist.shape[1]
            color[hit] = self.spot_colors[first[hit]]
        xy = local[:, :2]
        if self.discs.shape[0]:
            # Discs in painter's order (the last one drawn wins), some with an inner disc of a second colour.
            dist = torch.cdist(xy, self.discs[:, :2]) / self.discs[:, 2]
            last = torch.where(dist < 1, torch.arange(dist.shape[1]), -1).max(dim=1).values
            hit = last >= 0
            index = last[hit]
            ratio = dist[hit].gather(1, index[:, None])[:, 0]
            inner = ratio < self.discs[index, 3]
            disc_color = torch.where(inner[:, None], self.disc_colors[index, 3:], self.disc_colors[index, :3])
            color[hit] = disc_color * detail[hit]
        if self.lines.shape[0]:
            start, end, width = self.lines[:, 0:2], self.lines[:, 2:4], self.lines[:, 4]
            seg = end - start
            rel_x = xy[:, 0:1] - start[:, 0]  # (N, L)
            rel_y = xy[:, 1:2] - start[:, 1]
            t = ((rel_x * seg[:, 0] + rel_y * seg[:, 1]) / (seg * seg).sum(-1)).clamp(0, 1)
            dist2 = (rel_x - t * seg[:, 0]) ** 2 + (rel_y - t * seg[:, 1]) ** 2
            last = torch.where(dist2 < (width / 2) ** 2, torch.arange(dist2.shape[1]), -1).max(dim=1).values
            hit = last >= 0
            color[hit] = self.line_colors[last[hit]]
        return color.clamp(0, 1).to(DTYPE)


def _random_color(rng, saturation=(0.45, 0.95), value=(0.35, 0.95)) -> np.ndarray:
    import colorsys

    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value)))


def random_texture(rng, frequency: float, extent: float, spots: int = 0, discs: int = 0, lines: int = 0,
                   plane_extent=(0.0, 0.0)) -> Texture:
    table = 4096
    octaves = 4
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=TEXTURE_DTYPE)  # noqa: E731
    spot_centres = rng.normal(size=(spots, 3))
    spot_centres = spot_centres / np.linalg.norm(spot_centres, axis=1, keepdims=True) * extent
    ex, ey = plane_extent
    disc_params = np.stack([rng.uniform(-ex, ex, discs), rng.uniform(-ey, ey, discs),
                            rng.uniform(0.12, 0.55, discs),
                            np.where(rng.uniform(size=discs) < 0.5, rng.uniform(0.25, 0.6, discs), 0.0)],
                           axis=1) if discs else np.zeros((0, 4))
    line_params = np.zeros((0, 5))
    if lines:
        start = np.stack([rng.uniform(-ex, ex, lines), rng.uniform(-ey, ey, lines)], axis=1)
        angle = rng.uniform(0, np.pi, lines)
        length = rng.uniform(0.5, 2.5, lines)
        end = start + length[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        line_params = np.concatenate([start, end, rng.uniform(0.05, 0.12, (lines, 1))], axis=1)
    return Texture(
        colors=t([_random_color(rng) for _ in range(3)]),
        frequency=frequency,
        cell_frequency=frequency * rng.uniform(1.2, 2.0),
        cell_mix=rng.uniform(0.25, 0.45),
        noise_tables=t(rng.uniform(size=(octaves, table))),
        octave_offsets=t(rng.uniform(0, 100, size=(octaves, 3))),
        cell_colors=t([_random_color(rng, value=(0.2, 1.0)) for _ in range(257)]),
        spots=t(spot_centres),
        spot_radius=t(rng.uniform(0.06, 0.16, spots) * max(extent, 1e-3)),
        spot_colors=t([_random_color(rng, value=(0.1, 1.0)) for _ in range(spots)]).reshape(-1, 3),
        discs=t(disc_params),
        disc_colors=t([np.concatenate([_random_color(rng), _random_color(rng)]) for _ in range(discs)]).reshape(-1, 6),
        lines=t(line_params),
        line_colors=t([_random_color(rng, value=(0.05, 1.0)) for _ in range(lines)]).reshape(-1, 3),
    )


# ---- shapes: intersect(origins, dirs) -> t (inf on a miss), normal(points), local(points) -----

def _rotation_y(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=DTYPE)


@dataclass
class Plane:
    """Points p with normal . p = offset; local frame (u, v, w) for the texture."""

    normal: torch.Tensor  # unit, facing the cameras
    offset: float
    frame: torch.Tensor  # (3, 3) rows: texture u axis, v axis, normal
    texture: Texture

    def intersect(self, origins, dirs):
        denom = dirs @ self.normal
        t = (self.offset - origins @ self.normal) / torch.where(denom.abs() < 1e-12, 1e-12, denom)
        return torch.where(t > EPS, t, torch.inf)

    def normal_at(self, points):
        return self.normal.expand_as(points)

    def local(self, points):
        return points @ self.frame.T


@dataclass
class Sphere:
    center: torch.Tensor
    radius: float
    rotation: torch.Tensor  # texture frame
    texture: Texture

    def intersect(self, origins, dirs):
        oc = origins - self.center
        a = (dirs * dirs).sum(-1)
        b = 2.0 * (dirs * oc).sum(-1)
        c = (oc * oc).sum(-1) - self.radius**2
        disc = b * b - 4 * a * c
        root = torch.sqrt(disc.clamp(min=0))
        t_near = (-b - root) / (2 * a)
        t_far = (-b + root) / (2 * a)
        t = torch.where(t_near > EPS, t_near, t_far)
        return torch.where((disc >= 0) & (t > EPS), t, torch.inf)

    def normal_at(self, points):
        return (points - self.center) / self.radius

    def local(self, points):
        return (points - self.center) @ self.rotation


@dataclass
class Box:
    center: torch.Tensor
    half: torch.Tensor  # (3,) half extents in the box frame
    rotation: torch.Tensor  # box frame -> world
    texture: Texture

    def intersect(self, origins, dirs):
        o = (origins - self.center) @ self.rotation
        d = dirs @ self.rotation
        d = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
        t1 = (-self.half - o) / d
        t2 = (self.half - o) / d
        t_min = torch.minimum(t1, t2).max(dim=-1).values
        t_max = torch.maximum(t1, t2).min(dim=-1).values
        t = torch.where(t_min > EPS, t_min, t_max)
        return torch.where((t_max >= t_min) & (t > EPS), t, torch.inf)

    def normal_at(self, points):
        p = (points - self.center) @ self.rotation / self.half
        axis = p.abs().argmax(dim=-1)
        n = torch.zeros_like(p)
        n.scatter_(1, axis[:, None], torch.sign(p.gather(1, axis[:, None])))
        return n @ self.rotation.T

    def local(self, points):
        return (points - self.center) @ self.rotation


@dataclass
class Cylinder:
    """A vertical capped cylinder standing with its base at ``base`` (y down: top = base.y - height)."""

    base: torch.Tensor
    radius: float
    height: float
    texture: Texture

    def _parts(self, origins, dirs):
        o = origins - self.base
        a = dirs[:, 0] ** 2 + dirs[:, 2] ** 2
        b = 2 * (o[:, 0] * dirs[:, 0] + o[:, 2] * dirs[:, 2])
        c = o[:, 0] ** 2 + o[:, 2] ** 2 - self.radius**2
        disc = b * b - 4 * a * c
        root = torch.sqrt(disc.clamp(min=0))
        safe_a = torch.where(a < 1e-12, 1e-12, a)
        side = torch.full_like(a, torch.inf)
        for sign in (-1.0, 1.0):  # both roots: the near one may be outside the height range
            t = (-b + sign * root) / (2 * safe_a)
            y = o[:, 1] + t * dirs[:, 1]
            ok = (disc >= 0) & (t > EPS) & (y <= 0) & (y >= -self.height)
            side = torch.where(ok, torch.minimum(side, t), side)
        caps = torch.full_like(a, torch.inf)
        dy = torch.where(dirs[:, 1].abs() < 1e-12, 1e-12, dirs[:, 1])
        for cap_y in (0.0, -self.height):
            t = (cap_y - o[:, 1]) / dy
            x = o[:, 0] + t * dirs[:, 0]
            z = o[:, 2] + t * dirs[:, 2]
            ok = (t > EPS) & (x * x + z * z <= self.radius**2)
            caps = torch.where(ok, torch.minimum(caps, t), caps)
        return side, caps

    def intersect(self, origins, dirs):
        side, caps = self._parts(origins, dirs)
        return torch.minimum(side, caps)

    def normal_at(self, points):
        p = points - self.base
        radial = torch.stack([p[:, 0], torch.zeros_like(p[:, 0]), p[:, 2]], dim=-1) / self.radius
        on_cap = (p[:, 0] ** 2 + p[:, 2] ** 2).sqrt() < self.radius * (1 - 1e-7)
        cap_normal = torch.zeros_like(p)
        cap_normal[:, 1] = torch.where(p[:, 1] < -self.height / 2, -1.0, 1.0)
        return torch.where(on_cap[:, None], cap_normal, radial)

    def local(self, points):
        return points - self.base


# ---- the scene -----------------------------------------------------------------------------------

@dataclass
class Scene:
    shapes: list
    light: torch.Tensor  # unit vector towards the light
    ambient: float = 0.35

    def cast(self, origins: torch.Tensor, dirs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest hit of each ray: (t, shape index); t is inf (index -1) on a miss."""
        ts = torch.stack([shape.intersect(origins, dirs) for shape in self.shapes], dim=-1)
        t, index = ts.min(dim=-1)
        return t, torch.where(torch.isfinite(t), index, -1)

    def shade(self, points: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Lambertian colour (N, 3) of surface points hit on shapes ``index`` (view independent)."""
        color = torch.zeros_like(points)
        normal = torch.zeros_like(points)
        for k, shape in enumerate(self.shapes):
            mask = index == k
            if mask.any():
                color[mask] = shape.texture(shape.local(points[mask]))
                normal[mask] = shape.normal_at(points[mask])
        lambert = (normal @ self.light).clamp(min=0)
        shadow_t, _ = self.cast(points + normal * 1e-5, self.light.expand_as(points))
        lit = torch.where(torch.isfinite(shadow_t), 0.0, 1.0)
        return (color * (self.ambient + (1 - self.ambient) * lambert * lit)[:, None]).clamp(0, 1)


def _unit(v) -> torch.Tensor:
    v = torch.as_tensor(np.asarray(v, dtype=np.float64))
    return v / v.norm()


def make_scene(seed: int) -> Scene:
    """A random layout of 5 textured objects on a floor in front of a backdrop, fixed by ``seed``."""
    rng = np.random.default_rng([seed, 0])
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    tilt = rng.uniform(-0.08, 0.08, 2)
    back_normal = _unit([tilt[0], tilt[1], -1.0])  # faces the cameras
    back_u = _unit(np.cross([0.0, 1.0, 0.0], -back_normal.numpy()))
    back_v = torch.linalg.cross(-back_normal, back_u)
    backdrop = Plane(back_normal, float(back_normal @ t([0.0, 0.0, BACKDROP_Z])),
                     torch.stack([back_u, back_v, back_normal]),
                     random_texture(rng, 0.8, 1.0, discs=70, lines=45, plane_extent=(7.0, 4.5)))
    floor = Plane(t([0.0, -1.0, 0.0]), -FLOOR_Y, t([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]]),
                  random_texture(rng, 1.0, 1.0, discs=40, lines=20, plane_extent=(5.0, 8.0)))
    # Five slots across the view, each at its own depth, shuffled between object kinds.
    slots = np.array([-1.9, -0.9, 0.1, 1.1, 2.0]) + rng.uniform(-0.15, 0.15, 5)
    depths = rng.permutation(np.linspace(3.6, 6.4, 5)) + rng.uniform(-0.2, 0.2, 5)
    kinds = rng.permutation(["sphere", "sphere_float", "box", "cylinder", "box_float"])
    shapes = [backdrop, floor]
    for x, z, kind in zip(slots, depths, kinds):
        scale = z / 4.5  # farther objects are larger, so every object covers a similar image area
        if kind == "sphere":
            r = rng.uniform(0.5, 0.65) * scale
            shapes.append(Sphere(t([x, FLOOR_Y - r, z]), r, _rotation_y(rng.uniform(0, 6.3)),
                                 random_texture(rng, 2.5 / scale, r, spots=12)))
        elif kind == "sphere_float":
            r = rng.uniform(0.3, 0.42) * scale
            shapes.append(Sphere(t([x, rng.uniform(-0.9, -0.4) * scale, z]), r, _rotation_y(rng.uniform(0, 6.3)),
                                 random_texture(rng, 3.0 / scale, r, spots=8)))
        elif kind == "box":
            half = t(rng.uniform([0.35, 0.3, 0.35], [0.5, 0.55, 0.5]) * scale)
            shapes.append(Box(t([x, FLOOR_Y - float(half[1]), z]), half, _rotation_y(rng.uniform(0.3, 1.2)),
                              random_texture(rng, 2.5 / scale, float(half.max()), spots=10)))
        elif kind == "box_float":
            half = t(rng.uniform([0.25, 0.2, 0.25], [0.35, 0.3, 0.35]) * scale)
            rot = _rotation_y(rng.uniform(0.2, 1.3))
            roll = rng.uniform(-0.5, 0.5)
            rot = rot @ torch.tensor([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0],
                                      [0, 0, 1.0]], dtype=DTYPE)
            shapes.append(Box(t([x, rng.uniform(-1.0, -0.5) * scale, z]), half, rot,
                              random_texture(rng, 3.0 / scale, float(half.max()), spots=8)))
        else:
            r = rng.uniform(0.25, 0.35) * scale
            shapes.append(Cylinder(t([x, FLOOR_Y, z]), r, rng.uniform(1.2, 1.7) * scale,
                                   random_texture(rng, 2.5 / scale, r, spots=10)))
    light = _unit([rng.uniform(0.2, 0.5), -0.8, -0.5])
    return Scene(shapes, light)


# ---- cameras ------------------------------------------------------------------------------------

def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation (OpenCV axes) looking from ``position`` at ``target``, y down."""
    z = target - position
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def _small_rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation by small angles (radians) about x, y, z (Rodrigues of the axis-angle vector)."""
    theta = np.linalg.norm(angles)
    if theta < 1e-12:
        return np.eye(3)
    k = angles / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


def grid_shape(views: int, width: int, height: int) -> tuple[int, int]:
    cols = max(1, round(math.sqrt(views * width / height)))
    return math.ceil(views / cols), cols


def make_cameras(views: int, width: int, height: int, seed: int, baseline: float = 1.0,
                 jitter_deg: float = 1.0) -> list[Camera]:
    """Cameras on a rows x cols grid on z = 0, spanning 0.9 x 0.6 world units times ``baseline``,
    looking at a point LOOK_AT_DEPTH ahead (so slightly converging, like a hand-held LLFF capture),
    with a small random rotation. near/far are placeholders until the views are rendered."""
    rng = np.random.default_rng([seed, 1])
    rows, cols = grid_shape(views, width, height)
    focal = 0.5 * width / math.tan(math.radians(HFOV_DEG) / 2)
    span_x, span_y = 0.9 * baseline, 0.6 * baseline
    cameras = []
    for i in range(views):
        r, c = divmod(i, cols)
        gx = (c / (cols - 1) - 0.5) if cols > 1 else 0.0
        gy = (r / (rows - 1) - 0.5) if rows > 1 else 0.0
        step = np.array([span_x / max(cols - 1, 1), span_y / max(rows - 1, 1), 0.05])
        position = np.array([gx * span_x, gy * span_y, 0.0]) + rng.uniform(-0.1, 0.1, 3) * step
        rotation = _look_at(position, np.array([0.0, 0.0, LOOK_AT_DEPTH]))
        rotation = rotation @ _small_rotation(np.radians(rng.uniform(-jitter_deg, jitter_deg, 3)))
        c2w = np.eye(4)
        c2w[:3, :3] = rotation
        c2w[:3, 3] = position
        cameras.append(Camera(f"{i:03d}.png", width, height, focal, focal, width / 2, height / 2, c2w, 0.0, 0.0))
    return cameras


def render(scene: Scene, camera: Camera, supersample: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 colours (supersampled) and (H, W) float32 z-depth of the pixel-centre rays."""
    H, W, s = camera.height, camera.width, supersample
    centres = pixel_grid(H, W, dtype=DTYPE).reshape(-1, 2)
    origins, dirs = camera_rays(camera, centres)
    depth, index = scene.cast(origins, dirs)
    if not torch.isfinite(depth).all():
        raise RuntimeError("demo scene: a pixel-centre ray hit nothing")
    sub = (torch.arange(s, dtype=DTYPE) + 0.5) / s - 0.5
    sy, sx = torch.meshgrid(sub, sub, indexing="ij")
    samples = (centres[:, None, :] + torch.stack([sx, sy], dim=-1).reshape(1, -1, 2)).reshape(-1, 2)
    origins, dirs = camera_rays(camera, samples)
    t, index = scene.cast(origins, dirs)
    color = scene.shade(origins + t[:, None] * dirs, index).reshape(H * W, s * s, 3).mean(dim=1)
    rgb = (color.reshape(H, W, 3).numpy() * 255.0 + 0.5).astype(np.uint8)
    return rgb, depth.reshape(H, W).numpy().astype(np.float32)


def near_far(depth: np.ndarray, margin: float = 0.1) -> tuple[float, float]:
    """LLFF-style bounds: 0.1 / 99.9 percentiles of the exact depth, widened by ``margin``."""
    lo, hi = np.percentile(depth, [0.1, 99.9])
    return float(lo * (1 - margin)), float(hi * (1 + margin))


def generate(width: int = 160, height: int = 120, views: int = 20, seed: int = 0, baseline: float = 1.0,
             supersample: int = 3, progress: bool = False):
    """Render the demo scene: (cameras with near/far set, list of RGB uint8 images, list of depths)."""
    scene = make_scene(seed)
    cameras = make_cameras(views, width, height, seed, baseline)
    images, depths = [], []
    iterator = cameras
    if progress:
        iterator = progress_bar(cameras, desc="demo views", unit="view")
    for camera in iterator:
        rgb, depth = render(scene, camera, supersample)
        camera.near, camera.far = near_far(depth)
        images.append(rgb)
        depths.append(depth)
    return cameras, images, depths
