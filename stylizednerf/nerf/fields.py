"""Radiance fields: density and colour at model-space points.

* :class:`FastField`: a multi-resolution hash grid (Instant-NGP) in plain PyTorch, every level
  looked up at once (one gather over an (N, levels, 8 corners) index tensor), then a tiny density
  MLP and a tiny colour MLP on spherical-harmonics-encoded view directions.
* :class:`MLPField`: the paper's NeRF MLP (8 x 256, skip at layer 5, positional encoding with 10
  position and 4 direction frequencies).

Both take points already mapped to [0, 1]^3 (see ``SceneSpace.to_unit_cube``) and expose
``geometry_features(x)``: per-point features that depend only on frozen geometry parameters,
for the style module of the stylized NeRF.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

HASH_PRIMES = (1, 2654435761, 805459861)
# the same primes as signed 32-bit integers (equal modulo 2^32), for int32 index arithmetic
PRIMES_INT32 = tuple(p - (1 << 32) if p >= 1 << 31 else p for p in HASH_PRIMES)


DENSITY_LOG_MAX = 15.0  # densities saturate at e^15 ~ 3e6: opaque at any sample spacing, far from overflow


class TruncExp(torch.autograd.Function):
    """exp in float32 with input and gradient clamped at ``DENSITY_LOG_MAX`` (Instant-NGP's density
    activation made overflow-proof): exp(x) overflows float32 for x > 88, and an infinite density
    turns the transmittance exp(-(cumsum - tau)) into exp(inf - inf) = NaN. The gradient is passed
    straight through above the cap, so a saturated density can still be lowered."""

    @staticmethod
    def forward(ctx, x):
        x = x.float().clamp(max=DENSITY_LOG_MAX)
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x)


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    return TruncExp.apply(x)


class HashEncoding(nn.Module):
    """Multi-resolution hash encoding; all levels in one vectorised gather.

    Levels whose (res+1)^3 grid fits in the table are indexed densely (no collisions); finer
    ones use Instant-NGP's XOR hash. Output: (N, levels * features), trilinear in each level.
    """

    def __init__(self, levels=16, features=2, log2_table=19, base_res=16, max_res=2048):
        super().__init__()
        growth = math.exp((math.log(max_res) - math.log(base_res)) / max(levels - 1, 1))
        res = [int(math.floor(base_res * growth**level)) for level in range(levels)]
        size = 2**log2_table
        self.levels, self.features, self.table_size = levels, features, size
        self.register_buffer("resolution", torch.tensor(res, dtype=torch.float32), persistent=False)
        self.register_buffer("dense", torch.tensor([(r + 1) ** 3 <= size for r in res]), persistent=False)
        self.register_buffer("stride_y", torch.tensor([r + 1 for r in res], dtype=torch.int64), persistent=False)
        self.register_buffer("level_offset", torch.arange(levels, dtype=torch.int64) * size, persistent=False)
        self.register_buffer("corner_bit", torch.tensor([0, 1], dtype=torch.int64), persistent=False)
        self.table = nn.Parameter(torch.empty(levels * size, features).uniform_(-1e-4, 1e-4))
        # for the inference lookup: coarse levels are the dense ones (res grows with the level)
        self.dense_levels = sum((r + 1) ** 3 <= size for r in res)
        corners = torch.tensor([[c & 1, (c >> 1) & 1, c >> 2] for c in range(8)], dtype=torch.int64)  # (8, xyz)
        strides = torch.tensor([r + 1 for r in res[:self.dense_levels]], dtype=torch.int64)
        self.register_buffer("dense_corner_offset", corners[:, 0] + corners[:, 1] * strides[:, None]
                             + corners[:, 2] * strides[:, None] ** 2, persistent=False)  # (dense levels, 8)

    @property
    def out_dim(self) -> int:
        return self.levels * self.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self._forward_training(x)
        return self._forward_inference(x)

    def _forward_inference(self, x: torch.Tensor) -> torch.Tensor:
        """The same lookup with fewer, smaller temporaries, for eager inference (rendering, frozen
        geometry): dense and hashed levels indexed separately, and the 8-corner weighted sum done by
        one ``embedding_bag`` instead of materialising the (N, levels, 8, features) gather. On CUDA
        the Triton kernel of ``stylizednerf.nerf.hash_kernel`` does it all in registers."""
        from stylizednerf.nerf import hash_kernel

        fused = hash_kernel.encode_or_none(self, x)
        if fused is not None:
            return fused
        x = x.float().clamp(0.0, 1.0 - 1e-6)
        n = x.shape[0]
        pos = x[:, None, :] * self.resolution[None, :, None]  # (N, L, 3)
        base = pos.floor()
        frac = pos - base
        # int32 index arithmetic: half the memory traffic of int64, ~1.7x faster on a CPU. Exact:
        # dense indices and level offsets fit in 31 bits, and a hashed product wraps modulo 2^32,
        # which keeps the low bits that the table mask reads (Instant-NGP hashes in uint32 too)
        base = base.int()
        k = self.dense_levels
        parts = []
        if k > 0:  # dense levels: row-major cell index, plus each corner's fixed offset
            b = base[:, :k]
            stride = self.stride_y[:k].int()
            first = b[..., 0] + b[..., 1] * stride + b[..., 2] * stride * stride + self.level_offset[:k].int()
            parts.append(first[..., None] + self.dense_corner_offset.int())  # (N, k, 8)
        if k < self.levels:  # hashed levels: per axis the two corner coordinates, then combined
            b = base[:, k:]  # (N, L - k, 3); (b + bit) * prime = b * prime + bit * prime: one product per axis
            bit = self.corner_bit.int()
            hz = (b[..., 2] * PRIMES_INT32[2])[..., None] + bit * PRIMES_INT32[2]  # (N, L - k, 2)
            hy = (b[..., 1] * PRIMES_INT32[1])[..., None] + bit * PRIMES_INT32[1]
            hx = b[..., 0, None] + bit
            hashed = (hz[..., :, None] ^ hy[..., None, :]).reshape(n, -1, 4, 1) ^ hx[..., None, :]
            parts.append((hashed.reshape(n, -1, 8) & (self.table_size - 1)) + self.level_offset[k:, None].int())
        index = torch.cat(parts, 1) if len(parts) > 1 else parts[0]  # (N, L, 8), corner = x + 2y + 4z
        w = torch.stack([1.0 - frac, frac], -1)  # (N, L, 3, 2)
        weight = (w[:, :, 2, :, None] * w[:, :, 1, None, :]).reshape(n, -1, 4, 1) * w[:, :, 0, None, :]
        out = F.embedding_bag(index.reshape(-1, 8), self.table, mode="sum",
                              per_sample_weights=weight.reshape(-1, 8).to(self.table.dtype))
        return out.reshape(n, -1)

    def _forward_training(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable lookup; the training step compiles it (and its gradient) into few kernels."""
        x = x.float().clamp(0.0, 1.0 - 1e-6)
        n = x.shape[0]
        pos = x[:, None, :] * self.resolution[None, :, None]  # (N, L, 3)
        base = pos.floor()
        frac = pos - base
        # int32 indices in eager CPU training, as in _forward_inference (same indices; the lookup with
        # its gradient ~1.3x faster, the demo's whole NeRF step no measurably); int64 where the step is
        # compiled for a GPU, as it was tuned
        dtype, primes = (torch.int32, PRIMES_INT32) if x.device.type == "cpu" else (torch.int64, HASH_PRIMES)
        # per axis the two corner coordinates (N, L, 3, 2) and their linear weights
        coord = base.to(dtype)[..., None] + self.corner_bit.to(dtype)
        weight = torch.stack([1.0 - frac, frac], -1)
        cx, cy, cz = coord.unbind(2)  # (N, L, 2) each
        stride = self.stride_y[None, :, None].to(dtype)
        # corners in (z, y, x) order: index = combine(z)[:, :, :, None, None] with y and x terms
        dense_index = (cz * stride * stride)[..., :, None, None] + (cy * stride)[..., None, :, None] + cx[..., None, None, :]
        hashed = ((cz * primes[2])[..., :, None, None] ^ (cy * primes[1])[..., None, :, None]
                  ^ cx[..., None, None, :])
        index = torch.where(self.dense[None, :, None, None, None], dense_index, hashed) & (self.table_size - 1)
        index = (index + self.level_offset[None, :, None, None, None].to(dtype)).reshape(n, self.levels, 8)
        wx, wy, wz = weight.unbind(2)
        w = (wz[..., :, None, None] * wy[..., None, :, None] * wx[..., None, None, :]).reshape(n, self.levels, 8)
        values = self.table[index]  # (N, L, 8, F)
        return (values * w[..., None]).sum(2).reshape(n, -1)


def sh_encoding(d: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics up to degree 4 (16 values) of unit directions (N, 3)."""
    x, y, z = d.unbind(-1)
    xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
    return torch.stack([
        torch.full_like(x, 0.28209479177387814),
        -0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x,
        1.0925484305920792 * xy, -1.0925484305920792 * yz, 0.94617469575755997 * zz - 0.31539156525251999,
        -1.0925484305920792 * xz, 0.54627421529603959 * (xx - yy),
        0.59004358992664352 * y * (-3.0 * xx + yy), 2.8906114426405538 * xy * z,
        0.45704579946446572 * y * (1.0 - 5.0 * zz), 0.3731763325901154 * z * (5.0 * zz - 3.0),
        0.45704579946446572 * x * (1.0 - 5.0 * zz), 1.4453057213202769 * z * (xx - yy),
        0.59004358992664352 * x * (-xx + 3.0 * yy),
    ], -1)


class FastField(nn.Module):
    """Hash grid + tiny MLPs. ``geometry_features`` = the hash encoding (levels * features dims)."""

    def __init__(self, levels=16, features=2, log2_table=19, base_res=16, max_res=2048, hidden=64,
                 geo_features=15):
        super().__init__()
        self.encoding = HashEncoding(levels, features, log2_table, base_res, max_res)
        self.density_mlp = nn.Sequential(nn.Linear(self.encoding.out_dim, hidden), nn.ReLU(),
                                         nn.Linear(hidden, 1 + geo_features))
        self.color_mlp = nn.Sequential(nn.Linear(geo_features + 16, hidden), nn.ReLU(),
                                       nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    @property
    def feature_dim(self) -> int:
        return self.encoding.out_dim

    def geometry_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoding(x)

    def _density_and_geo(self, x):
        h = self.density_mlp(self.encoding(x)).float()
        return trunc_exp(h[:, 0] - 1.0), h[:, 1:]

    def density(self, x: torch.Tensor) -> torch.Tensor:
        return self._density_and_geo(x)[0]

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, geo = self._density_and_geo(x)
        rgb = torch.sigmoid(self.color_mlp(torch.cat([geo, sh_encoding(d)], -1)).float())
        return sigma, rgb


def positional_encoding(x: torch.Tensor, frequencies: int) -> torch.Tensor:
    """NeRF's encoding: x, sin(2^k x), cos(2^k x) for k < frequencies."""
    scales = 2.0 ** torch.arange(frequencies, device=x.device, dtype=x.dtype)
    xb = (x[..., None, :] * scales[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(xb), torch.cos(xb)], -1)


class MLPField(nn.Module):
    """The paper's NeRF MLP. Input points in [0,1]^3 are mapped back to [-1, 1] (NDC-like range)."""

    def __init__(self, depth=8, width=256, pos_frequencies=10, dir_frequencies=4, skip=4):
        super().__init__()
        self.pos_frequencies, self.dir_frequencies, self.skip = pos_frequencies, dir_frequencies, skip
        in_pos = 3 + 6 * pos_frequencies
        in_dir = 3 + 6 * dir_frequencies
        layers = []
        for i in range(depth):
            n_in = in_pos if i == 0 else width + (in_pos if i == skip + 1 else 0)
            layers.append(nn.Linear(n_in, width))
        self.layers = nn.ModuleList(layers)
        self.sigma = nn.Linear(width, 1)
        self.feature = nn.Linear(width, width)
        self.rgb_hidden = nn.Linear(width + in_dir, width // 2)
        self.rgb = nn.Linear(width // 2, 3)

    @property
    def feature_dim(self) -> int:
        return 3 + 6 * self.pos_frequencies

    def geometry_features(self, x: torch.Tensor) -> torch.Tensor:
        return positional_encoding(x.float() * 2.0 - 1.0, self.pos_frequencies)

    def _trunk(self, x):
        enc = self.geometry_features(x)
        h = enc
        for i, layer in enumerate(self.layers):
            if i == self.skip + 1:
                h = torch.cat([enc.to(h.dtype), h], -1)
            h = F.relu(layer(h))
        return h

    def density(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.sigma(self._trunk(x)).float()[:, 0])

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self._trunk(x)
        sigma = F.relu(self.sigma(h).float()[:, 0])
        denc = positional_encoding(d.float(), self.dir_frequencies)
        h = F.relu(self.rgb_hidden(torch.cat([self.feature(h), denc.to(h.dtype)], -1)))
        return sigma, torch.sigmoid(self.rgb(h).float())
