"""The style module under one shared code, with its compositing weights, as one Triton kernel.

Rendering a path uses the style's mean latent for every ray. In eager mode each of the style
MLP's layers writes and re-reads a (samples, 128) activation, ~10 GB of memory traffic per
504x378 view, plus the selection of the kept samples: that held the stylized renderer below
60 FPS on an H100 (BENCHMARKS.md, issue 6). Here a program takes ``BLOCK`` consecutive samples
through every layer with the activations in registers: bf16 (or the features' dtype) products
with float32 accumulation, as the eager layers under autocast; the output layer is three
float32 dot products per sample (no padded 3-column matrix product). Each sample's colour,
times its weight (zero at or below the threshold, as ``render_samples`` drops it), is the only
write; the per-ray sum is one small reduction in torch. There is no selection of kept samples,
so no host synchronisation: the samples below the threshold cost ~20 % more products, which is
cheaper than gathering the others.

The latent's projections are folded into the biases (as :meth:`StyleModule.shared`). Same
colours as the module to bf16 rounding (tests/test_style_kernel.py, in float32 in Triton's CPU
interpreter).
"""

import os
import sys

import torch

from stylizednerf.nerf import hash_kernel

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the torch build
    triton = None

_failed = False


def launch_config() -> tuple[int, int]:
    """(rows per program, warps): ``STYLIZEDNERF_STYLE_KERNEL=rows,warps`` overrides the default
    (bench/render_kernels.py measures the choices: 128 rows and 4 warps were fastest on an H100)."""
    text = os.environ.get("STYLIZEDNERF_STYLE_KERNEL", "128,4")
    rows, warps = (int(v) for v in text.split(","))
    return rows, warps


if triton is not None:

    @triton.jit
    def _style_kernel(feat_ptr, weight_ptr, w_in_ptr, b_in_ptr, w_hidden_ptr, b_hidden_ptr, w_out_ptr, b_out_ptr,
                      out_ptr, n_rows, threshold,
                      FEATURES: tl.constexpr, HIDDEN: tl.constexpr, LAYERS: tl.constexpr, BLOCK: tl.constexpr):
        rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        valid = rows < n_rows
        rows64 = rows.to(tl.int64)
        f_cols = tl.arange(0, FEATURES)
        h_cols = tl.arange(0, HIDDEN)
        x = tl.load(feat_ptr + rows64[:, None] * FEATURES + f_cols[None, :], mask=valid[:, None], other=0.0)
        w_in = tl.load(w_in_ptr + f_cols[:, None] * HIDDEN + h_cols[None, :])
        h = tl.dot(x, w_in, out_dtype=tl.float32)
        h = tl.maximum(h + tl.load(b_in_ptr + h_cols)[None, :], 0.0)
        for layer in tl.static_range(LAYERS - 1):
            w_l = tl.load(w_hidden_ptr + layer * HIDDEN * HIDDEN + h_cols[:, None] * HIDDEN + h_cols[None, :])
            h = tl.dot(h.to(w_l.dtype), w_l, out_dtype=tl.float32)
            h = tl.maximum(h + tl.load(b_hidden_ptr + layer * HIDDEN + h_cols)[None, :], 0.0)
        w = tl.load(weight_ptr + rows64, mask=valid, other=0.0)
        w = tl.where(w > threshold, w, 0.0)
        for c in tl.static_range(3):
            w_c = tl.load(w_out_ptr + c * HIDDEN + h_cols)
            logit = tl.sum(h * w_c[None, :], axis=1) + tl.load(b_out_ptr + c)
            tl.store(out_ptr + rows64 * 3 + c, w / (1.0 + tl.exp(-logit)), mask=valid)


def available(features: torch.Tensor, module) -> bool:
    """Triton on CUDA (or its interpreter), and layer widths that ``tl.dot`` takes (>= 16, powers of two)."""
    def fits(n):
        return n >= 16 and n & (n - 1) == 0

    return (not _failed and hash_kernel.available(features) and fits(module.input_dim)
            and fits(module.hidden_layers[0].out_features))


def folded_weights(module, latent: torch.Tensor, dtype: torch.dtype):
    """The module's layers for one code: (in, out) matrices as ``dtype`` (the products' inputs),
    float32 biases with the code's projections added, the output layer float32 (3, hidden)."""
    latent = latent.float()
    layers = list(module.hidden_layers)
    biases = [layer.bias.float() + latent_layer.weight.float() @ latent
              for layer, latent_layer in zip(layers, module.latent_layers[:-1])]
    w_in = layers[0].weight.t().to(dtype).contiguous()
    if len(layers) > 1:
        w_hidden = torch.stack([layer.weight.t() for layer in layers[1:]]).to(dtype).contiguous()
        b_hidden = torch.stack(biases[1:]).contiguous()
    else:  # valid pointers, never read
        w_hidden = torch.zeros(1, device=latent.device, dtype=dtype)
        b_hidden = torch.zeros(1, device=latent.device)
    w_out = module.output.weight.float().contiguous()
    b_out = (module.output.bias.float() + module.latent_layers[-1].weight.float() @ latent).contiguous()
    return w_in, biases[0].contiguous(), w_hidden, b_hidden, w_out, b_out


def weighted_colours(module, features: torch.Tensor, weights: torch.Tensor, latent: torch.Tensor,
                     threshold: float) -> torch.Tensor:
    """Each sample's weighted colour w * rgb (N, 3), float32, for features (N, F) and weights (N,)
    under one code ``latent`` (D,); zero where the weight is at or below ``threshold``."""
    n = features.shape[0]
    out = torch.empty(n, 3, device=features.device, dtype=torch.float32)
    if n == 0:
        return out
    dtype = features.dtype if features.dtype in (torch.bfloat16, torch.float16) else torch.float32
    w_in, b_in, w_hidden, b_hidden, w_out, b_out = folded_weights(module, latent, dtype)
    rows, warps = launch_config()
    _style_kernel[(triton.cdiv(n, rows),)](
        features.to(dtype).contiguous(), weights.float().contiguous(), w_in, b_in, w_hidden, b_hidden, w_out, b_out,
        out, n, float(threshold), FEATURES=module.input_dim, HIDDEN=module.hidden_layers[0].out_features,
        LAYERS=len(module.hidden_layers), BLOCK=rows, num_warps=warps)
    return out


def render_or_none(module, weights: torch.Tensor, features: torch.Tensor, latent: torch.Tensor, threshold: float,
                   background: float | None):
    """Stylized colours (R, 3) float32 of rays with weights (R, S) and the module's inputs (R, S, F)
    (``StyleModule.inputs``) under one code (D,), or None where the kernel does not apply or failed (then a one-line note, once)."""
    if latent.dim() != 1 or torch.is_grad_enabled() or not available(features, module):
        return None
    R, S = weights.shape
    colours = hash_kernel.run_or_note(sys.modules[__name__], "style", "eager style module", lambda: weighted_colours(
        module, features.reshape(R * S, -1), weights.reshape(-1), latent, threshold))
    if colours is None:
        return None
    out = colours.view(R, S, 3).sum(1)
    if background is not None:
        out = out + (1.0 - weights.float().sum(-1, keepdim=True)) * background
    return out
