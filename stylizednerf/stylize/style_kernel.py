"""The style module and its compositing for one shared code, as one Triton kernel (CUDA only).

Rendering a path uses one latent for every ray. In eager mode each of the style MLP's five
layers writes and re-reads a (samples, 128) activation: ~10 GB of memory traffic per 504x378
view, which held the stylized renderer below 60 FPS on an H100 (BENCHMARKS.md, issue 6). Here a
program takes 128 samples through all layers with the activations in registers (``tl.dot`` in
float32, i.e. TF32 tensor cores; the bf16 variant of this kernel hit an illegal memory access
under Triton 3.6 on the H100, BENCHMARKS.md), weights them, and writes only each sample's weighted colour;
the per-ray sum is one small reduction in torch. The latent's projections are folded into the
biases (:meth:`StyleModule.shared`).

Samples at or below the weight threshold are dropped as ``render_samples`` drops them. Same
colours as the float32 module to TF32 rounding (tests/test_style_kernel.py).
"""

import torch

from stylizednerf.nerf import hash_kernel

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

BLOCK_ROWS = 128
_failed = False

if triton is not None:

    @triton.jit
    def _style_kernel(feat_ptr, weight_ptr, w_in_ptr, b_in_ptr, w_hidden_ptr, b_hidden_ptr, w_out_ptr, b_out_ptr,
                      out_ptr, n_rows, threshold,
                      FEATURES: tl.constexpr, HIDDEN: tl.constexpr, LAYERS: tl.constexpr, OUT: tl.constexpr,
                      BLOCK: tl.constexpr):
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        valid = rows < n_rows
        w = tl.load(weight_ptr + rows, mask=valid, other=0.0)
        w = tl.where(w > threshold, w, 0.0)
        f_cols = tl.arange(0, FEATURES)
        h_cols = tl.arange(0, HIDDEN)
        o_cols = tl.arange(0, OUT)
        rows64 = rows.to(tl.int64)
        if tl.max(w, axis=0) > 0.0:  # blocks of empty space skip the MLP
            x = tl.load(feat_ptr + rows64[:, None] * FEATURES + f_cols[None, :], mask=valid[:, None], other=0.0)
            w_in = tl.load(w_in_ptr + f_cols[:, None] * HIDDEN + h_cols[None, :])
            h = tl.dot(x.to(tl.float32), w_in) + tl.load(b_in_ptr + h_cols)[None, :]
            h = tl.maximum(h, 0.0)
            for layer in tl.static_range(LAYERS - 1):
                w_l = tl.load(w_hidden_ptr + layer * HIDDEN * HIDDEN + h_cols[:, None] * HIDDEN + h_cols[None, :])
                h = tl.dot(h, w_l) + tl.load(b_hidden_ptr + layer * HIDDEN + h_cols)[None, :]
                h = tl.maximum(h, 0.0)
            w_out = tl.load(w_out_ptr + h_cols[:, None] * OUT + o_cols[None, :])
            logits = tl.dot(h, w_out) + tl.load(b_out_ptr + o_cols)[None, :]
            rgb = 1.0 / (1.0 + tl.exp(-logits))
            contribution = rgb * w[:, None]
        else:
            contribution = tl.zeros([BLOCK, OUT], dtype=tl.float32)
        tl.store(out_ptr + rows64[:, None] * 3 + o_cols[None, :], contribution,
                 mask=valid[:, None] & (o_cols[None, :] < 3))


def available(x: torch.Tensor, module) -> bool:
    """Triton on CUDA (or its interpreter), and layer widths that ``tl.dot`` takes (>= 16, powers of two)."""
    def fits(n):
        return n >= 16 and n & (n - 1) == 0

    return (not _failed and hash_kernel.available(x) and fits(module.feature_dim)
            and fits(module.hidden_layers[0].out_features))


def folded_weights(module, latent: torch.Tensor, dtype: torch.dtype = torch.float32):
    """The module's layers for one code: (in, out) weights as ``dtype``, float32 biases with the
    code's projections added; the output layer padded from 3 to 16 columns (``tl.dot``'s minimum)."""
    latent = latent.float()
    layers = list(module.hidden_layers)
    biases = [layer.bias.float() + latent_layer.weight.float() @ latent
              for layer, latent_layer in zip(layers, module.latent_layers[:-1])]
    w_in = layers[0].weight.t().to(dtype).contiguous()
    hidden = layers[0].out_features
    if len(layers) > 1:
        w_hidden = torch.stack([layer.weight.t() for layer in layers[1:]]).to(dtype).contiguous()
        b_hidden = torch.stack(biases[1:]).contiguous()
    else:  # a valid pointer; never read
        w_hidden = torch.zeros(1, device=latent.device, dtype=dtype)
        b_hidden = torch.zeros(1, device=latent.device)
    w_out = torch.zeros(hidden, 16, device=latent.device, dtype=dtype)
    w_out[:, :3] = module.output.weight.t().to(dtype)
    b_out = torch.zeros(16, device=latent.device)
    b_out[:3] = module.output.bias.float() + module.latent_layers[-1].weight.float() @ latent
    return w_in, biases[0].contiguous(), w_hidden, b_hidden, w_out, b_out


def weighted_colours(module, features: torch.Tensor, weights: torch.Tensor, latent: torch.Tensor,
                     threshold: float) -> torch.Tensor:
    """Each sample's weighted colour w * rgb (N, 3), float32, for features (N, F) and weights (N,);
    zero where the weight is at or below ``threshold``."""
    n = features.shape[0]
    out = torch.empty(n, 3, device=features.device, dtype=torch.float32)
    if n == 0:
        return out
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = folded_weights(module, latent)
    _style_kernel[(triton.cdiv(n, BLOCK_ROWS),)](
        features.contiguous(), weights.float().contiguous(), w_in, b_in, w_hidden, b_hidden, w_out, b_out, out, n,
        float(threshold), FEATURES=module.feature_dim, HIDDEN=module.hidden_layers[0].out_features,
        LAYERS=len(module.hidden_layers), OUT=16, BLOCK=BLOCK_ROWS, num_warps=8)
    return out


def render_or_none(module, weights: torch.Tensor, features: torch.Tensor, latent: torch.Tensor, threshold: float,
                   background: float | None):
    """Stylized colours (R, 3) of rays with weights (R, S) and features (R, S, F) under one code,
    or None where the kernel does not apply or failed (then a one-line note, once)."""
    global _failed
    if latent.dim() != 1 or torch.is_grad_enabled() or not available(weights, module):
        return None
    try:
        R, S = weights.shape
        colours = weighted_colours(module, features.reshape(R * S, -1), weights.reshape(-1), latent, threshold)
        out = colours.view(R, S, 3).sum(1)
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as error:  # noqa: BLE001  a Triton or driver failure must not stop a render
        import sys

        _failed = True
        print(f"note: the Triton style kernel failed ({type(error).__name__}: {error}); eager style module",
              file=sys.stderr)
        return None
    if background is not None:
        out = out + (1.0 - weights.float().sum(-1, keepdim=True)) * background
    return out
