"""Deferred back-propagation (ARF section 3.3): the gradient of a loss on a whole rendered view
without the whole view's graph in memory.

1. Render every pixel without a graph (chunks), giving the image I.
2. Evaluate the image loss L(I) with I as a leaf and take dL/dI (the loss's own graph — the VGG
   on one image — is small next to the renderer's for every sample of every pixel).
3. Re-render the pixels a chunk at a time with a graph and back-propagate dL/dI of those pixels
   into the parameters; the chunk's graph is freed before the next.

By the chain rule the accumulated parameter gradients equal those of back-propagating L through
the whole render at once (tests/test_arf.py checks it). As ARF-svox2's ``opt_style.py``, the
chunks are runs of consecutive pixels in row-major order (its ``batch_size`` rays).
"""

import torch


def deferred_backward(render, height: int, width: int, image_loss, chunk: int, patch_rays: int,
                      device=None) -> tuple[dict, torch.Tensor]:
    """Accumulate into the parameters' ``.grad`` the gradient of ``image_loss(image)`` for the
    image that ``render`` draws; returns (the loss's terms, detached; the image (H, W, 3)).

    ``render(index)``: colours (R, 3) of the flat pixel indices ``index`` (R,) (row-major),
    differentiable in the parameters when grad is enabled; ``image_loss(image (H, W, 3))`` ->
    a dict of scalar terms with the total under ``"loss"``. ``chunk``: pixels per graph-free
    render call; ``patch_rays``: pixels re-rendered with a graph at a time."""
    pixels = height * width

    def index(start, stop):
        return torch.arange(start, stop, device=device)

    with torch.no_grad():
        image = torch.cat([render(index(s, min(s + chunk, pixels))) for s in range(0, pixels, chunk)]).float()
    image = image.reshape(height, width, 3).requires_grad_(True)
    terms = image_loss(image)
    (pixel_grad,) = torch.autograd.grad(terms["loss"], image)
    pixel_grad = pixel_grad.reshape(pixels, 3)
    for start in range(0, pixels, patch_rays):
        stop = min(start + patch_rays, pixels)
        rgb = render(index(start, stop))
        rgb.backward(pixel_grad[start:stop].to(rgb.dtype))
    return {k: v.detach() for k, v in terms.items()}, image.detach()
