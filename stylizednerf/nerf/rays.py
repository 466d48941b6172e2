"""Rays from ``cameras.json`` cameras, and the space the field lives in.

World frame = the frame of ``cameras.json`` (OpenCV axes, its units). A ray is ``o + tau * d``
from :func:`stylizednerf.pinhole.camera_rays`: ``o`` the camera centre, ``d`` with camera-z
component 1, so the ray parameter ``tau`` IS the z-depth of the point in that camera. Every
depth this package returns is such a ``tau``, in world units.

The field does not see world coordinates. :class:`SceneSpace` maps them:

* ``forward`` (LLFF-like captures): recentre on the average pose and rotate so that the average
  camera looks down -Z with +Y up (the OpenGL axes LLFF uses), scale so that the smallest near
  bound becomes 1/0.75, then convert rays to NDC (near plane at 1). A ray is sampled by its NDC
  parameter ``s`` in [0, 1] (s = 1 is infinitely far).
* ``360`` captures: recentre on the point closest to all optical axes, scale so the farthest
  camera is at distance 1, and apply mip-NeRF 360's contraction (``|x| <= 1`` unchanged, the rest
  squeezed into the ball of radius 2). ``s`` in [0, 1] is spaced linearly in disparity between
  the near bound and a far bound (1000 scene radii).

Both kinds expose the same three maps of ``s`` (:meth:`SceneSpace.points`, :meth:`deltas`,
:meth:`depth`), so samplers and renderers never branch on the scene kind.
"""

from dataclasses import dataclass

import numpy as np
import torch

from stylizednerf.cameras import CameraSet

LLFF_NEAR_FACTOR = 0.75  # LLFF scales the scene so that min(near) = 1 / 0.75
NDC_NEAR = 1.0


def average_pose(c2w: np.ndarray) -> np.ndarray:
    """LLFF's average camera (4x4, OpenCV axes): mean centre, mean forward and mean down axes."""
    center = c2w[:, :3, 3].mean(0)
    forward = c2w[:, :3, 2].sum(0)
    forward /= np.linalg.norm(forward)
    down_hint = c2w[:, :3, 1].sum(0)
    right = np.cross(down_hint, forward)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], 1)
    pose[:3, 3] = center
    return pose


def focus_point(c2w: np.ndarray) -> np.ndarray:
    """Least-squares point closest to every camera's optical axis (instant-ngp's scene centre)."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for pose in c2w:
        d = pose[:3, 2] / np.linalg.norm(pose[:3, 2])
        proj = np.eye(3) - np.outer(d, d)
        a += proj
        b += proj @ pose[:3, 3]
    if np.linalg.cond(a) > 1e6:  # all axes parallel: no focus point
        return c2w[:, :3, 3].mean(0)
    return np.linalg.solve(a, b)


def ndc_rays(origins: torch.Tensor, dirs: torch.Tensor, ax: float, ay: float, near: float = NDC_NEAR):
    """LLFF/NeRF NDC rays for a camera looking down -Z: origins moved to the plane z = -near.

    ``ax = 2 fx / W`` and ``ay = 2 fy / H``. Returns NDC origins and directions; the NDC point
    ``o + s d`` for s in [0, 1] runs from the near plane to infinity.
    """
    t = -(near + origins[..., 2]) / dirs[..., 2]
    o = origins + t[..., None] * dirs
    ox, oy, oz = o.unbind(-1)
    dx, dy, dz = dirs.unbind(-1)
    o_ndc = torch.stack([-ax * ox / oz, -ay * oy / oz, 1.0 + 2.0 * near / oz], -1)
    d_ndc = torch.stack([-ax * (dx / dz - ox / oz), -ay * (dy / dz - oy / oz), -2.0 * near / oz], -1)
    return o_ndc, d_ndc


def contract(x: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360 contraction: identity inside the unit ball, (2 - 1/|x|) x/|x| outside."""
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    return torch.where(norm <= 1.0, x, (2.0 - 1.0 / norm) * x / norm)


@dataclass
class Rays:
    """A batch of rays in world and scene coordinates (plus NDC for forward scenes)."""

    origins: torch.Tensor  # world (B, 3)
    dirs: torch.Tensor  # world (B, 3), camera z = 1
    scene_origins: torch.Tensor
    scene_dirs: torch.Tensor
    ndc_origins: torch.Tensor | None = None
    ndc_dirs: torch.Tensor | None = None

    @property
    def view_dirs(self) -> torch.Tensor:
        """Unit directions in scene space (input of view-dependent colour)."""
        return self.scene_dirs / self.scene_dirs.norm(dim=-1, keepdim=True)


@dataclass
class SceneSpace:
    kind: str  # forward | 360
    world_to_scene: np.ndarray  # 4x4 similarity: scale * rotation, translation
    scale: float
    ndc_ax: float = 1.0  # 2 fx / W of the reference camera (forward only)
    ndc_ay: float = 1.0
    near: float = 0.0  # world z-depth bounds used for 360 sampling
    far: float = 1.0

    @property
    def bbox(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Axis-aligned box of model space that the grids cover."""
        if self.kind == "forward":
            return (-1.5, -1.5, -1.0), (1.5, 1.5, 1.0)
        return (-2.0, -2.0, -2.0), (2.0, 2.0, 2.0)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "world_to_scene": np.asarray(self.world_to_scene, dtype=float).tolist(),
                "scale": float(self.scale), "ndc_ax": float(self.ndc_ax), "ndc_ay": float(self.ndc_ay),
                "near": float(self.near), "far": float(self.far)}

    @classmethod
    def from_dict(cls, data: dict) -> "SceneSpace":
        return cls(data["kind"], np.asarray(data["world_to_scene"], dtype=np.float64), float(data["scale"]),
                   float(data["ndc_ax"]), float(data["ndc_ay"]), float(data["near"]), float(data["far"]))

    @classmethod
    def from_cameras(cls, camera_set: CameraSet, kind: str | None = None) -> "SceneSpace":
        kind = kind or camera_set.scene_kind
        c2w = camera_set.camera_to_world()
        nears = np.array([c.near for c in camera_set.cameras])
        fars = np.array([c.far for c in camera_set.cameras])
        if kind == "forward":
            avg = average_pose(c2w)
            # scene axes: X = right, Y = up, Z = backwards of the average camera (OpenGL)
            rotation = np.diag([1.0, -1.0, -1.0]) @ avg[:3, :3].T
            scale = 1.0 / (nears.min() * LLFF_NEAR_FACTOR)
            center = avg[:3, 3]
            ref = camera_set.cameras[0]
            ndc_ax, ndc_ay = 2.0 * ref.fx / ref.width, 2.0 * ref.fy / ref.height
        elif kind == "360":
            center = focus_point(c2w)
            rotation = np.eye(3)
            scale = 1.0 / max(np.linalg.norm(c2w[:, :3, 3] - center, axis=1).max(), 1e-9)
            ndc_ax = ndc_ay = 1.0
        else:
            raise ValueError(f"unknown scene kind '{kind}' (forward or 360)")
        w2s = np.eye(4)
        w2s[:3, :3] = scale * rotation
        w2s[:3, 3] = -scale * rotation @ center
        near = 0.5 * float(nears.min())
        far = 1000.0 / scale
        return cls(kind, w2s, float(scale), float(ndc_ax), float(ndc_ay), near, float(max(far, 2 * fars.max())))

    # ---- rays and the maps of the sampling parameter s --------------------------------------

    def rays(self, origins: torch.Tensor, dirs: torch.Tensor, world_to_scene: torch.Tensor | None = None) -> Rays:
        """``world_to_scene``: the matrix as a tensor already on the device (no host copy, so
        the call can run inside CUDA-graph capture); built from the numpy matrix when None."""
        m = world_to_scene
        if m is None:
            m = torch.as_tensor(self.world_to_scene, dtype=origins.dtype, device=origins.device)
        # elementwise products, not a matmul: under bf16 autocast a matmul would round the rays to
        # 8 mantissa bits (a median 0.5 px, max 3 px NDC error at 504 px), blurring every view
        origins, dirs, m = origins.float(), dirs.float(), m.float()
        rot = m[:3, :3]
        scene_o = (origins[..., None, :] * rot).sum(-1) + m[:3, 3]
        scene_d = (dirs[..., None, :] * rot).sum(-1)
        if self.kind == "forward":
            o_ndc, d_ndc = ndc_rays(scene_o, scene_d, self.ndc_ax, self.ndc_ay)
            return Rays(origins, dirs, scene_o, scene_d, o_ndc, d_ndc)
        return Rays(origins, dirs, scene_o, scene_d)

    def depth(self, rays: Rays, s: torch.Tensor) -> torch.Tensor:
        """World z-depth ``tau`` (B, n) of the points at sampling parameters s (B, n)."""
        if self.kind == "forward":
            s = s.clamp(max=1.0 - 1e-5)  # s = 1 is at infinity
            z_ndc = rays.ndc_origins[:, 2:3] + s * rays.ndc_dirs[:, 2:3]
            z_scene = 2.0 * NDC_NEAR / (z_ndc - 1.0)
            return (z_scene - rays.scene_origins[:, 2:3]) / rays.scene_dirs[:, 2:3]
        return 1.0 / ((1.0 - s) / self.near + s / self.far)

    def points(self, rays: Rays, s: torch.Tensor) -> torch.Tensor:
        """Model-space points (B, n, 3) where the field is queried."""
        if self.kind == "forward":
            return rays.ndc_origins[:, None, :] + s[..., None] * rays.ndc_dirs[:, None, :]
        tau = self.depth(rays, s)
        return contract(rays.scene_origins[:, None, :] + tau[..., None] * rays.scene_dirs[:, None, :])

    def deltas(self, rays: Rays, edges: torch.Tensor) -> torch.Tensor:
        """Interval lengths (B, n) for volume rendering: NDC length (forward) or scene metric (360)."""
        if self.kind == "forward":
            return (edges[:, 1:] - edges[:, :-1]) * rays.ndc_dirs.norm(dim=-1, keepdim=True)
        tau = self.depth(rays, edges)
        return (tau[:, 1:] - tau[:, :-1]) * rays.scene_dirs.norm(dim=-1, keepdim=True)

    def to_unit_cube(self, points: torch.Tensor, lo: torch.Tensor | None = None,
                     hi: torch.Tensor | None = None) -> torch.Tensor:
        """Model-space points mapped to [0, 1]^3 over :attr:`bbox` (clamped); lo/hi as device tensors."""
        if lo is None or hi is None:
            lo = torch.tensor(self.bbox[0], dtype=points.dtype, device=points.device)
            hi = torch.tensor(self.bbox[1], dtype=points.dtype, device=points.device)
        return ((points - lo) / (hi - lo)).clamp(0.0, 1.0)
