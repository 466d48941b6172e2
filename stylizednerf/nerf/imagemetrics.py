"""Image quality of renders: PSNR and SSIM (Gaussian window 11, sigma 1.5, as mip-NeRF/skimage).

LPIPS lives in stylizednerf.metrics (AlexNet weights from the data folder); :func:`lpips_or_none`
uses it when that module is importable and returns None otherwise.
"""

import math

import torch
import torch.nn.functional as F


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.float() - b.float()) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)


def mse_to_psnr(mse: float) -> float:
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM of two (H, W, 3) images in [0, 1] (valid-region filtering, channels averaged)."""
    x = a.float().permute(2, 0, 1)[:, None]
    y = b.float().permute(2, 0, 1)[:, None]
    coords = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).to(x.device)
    kernel = (g[:, None] * g[None, :])[None, None]

    def blur(z):
        return F.conv2d(z, kernel)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return float(s.mean())


def lpips_or_none(pairs) -> float | None:
    """Mean LPIPS (AlexNet) over (render, target) pairs, or None when no LPIPS is available."""
    try:
        from stylizednerf.metrics import lpips as lpips_module  # built by the metrics stage
    except ImportError:
        return None
    fn = getattr(lpips_module, "lpips_distance", None)
    if fn is None:
        return None
    try:
        return float(sum(float(fn(a, b)) for a, b in pairs) / max(len(pairs), 1))
    except Exception:  # a half-finished metrics module must not kill NeRF training
        return None
