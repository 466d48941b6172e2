"""Square patches of training views: where the 3D style term looks (METHOD.md section 5 and
BENCHMARKS.md, issue 14).

L_mimic alone fits a view-independent field to 2D targets whose brushwork differs from view to
view; the per-pixel mean of those targets keeps the palette and blurs the strokes away. The 3D
style term asks the field's own renderings of a few patches per step for the painting's feature
statistics (the decoder's style loss), which a consistent texture can meet. Pixels are indexed
view-major (``(view * H + row) * W + column``), as the ray cache and the training steps do.
"""

import torch


def style_term_now(weight: float, every: int, generator: torch.Generator) -> bool:
    """Whether a step gets the 3D style term: never at weight 0, else on average one step in
    ``every``, drawn from the run's generator (a resumed run draws the same)."""
    if weight <= 0:
        return False
    return every <= 1 or bool(torch.rand((), generator=generator) < 1.0 / every)


def patch_side(side: int, height: int, width: int) -> int:
    """The patch side in pixels: the setting, at most the views' shorter side."""
    return min(side, height, width)


def patch_corners(generator: torch.Generator, count: int, views: int, height: int, width: int,
                  side: int) -> torch.Tensor:
    """(count,) flat index of the top-left pixel of ``count`` random ``side`` x ``side`` patches,
    each in a random view and wholly inside it (CPU, from ``generator``)."""
    view = torch.randint(views, (count,), generator=generator)
    top = torch.randint(height - side + 1, (count,), generator=generator)
    left = torch.randint(width - side + 1, (count,), generator=generator)
    return (view * height + top) * width + left


def patch_pixels(corners: torch.Tensor, side: int, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """(view, row, column), each (P * side * side,), of the pixels of the patches at ``corners``
    (P,), patch after patch, row-major inside each (on ``corners``' device)."""
    rows = torch.arange(side, device=corners.device)
    offsets = (rows[:, None] * width + rows[None, :]).reshape(1, -1)
    index = (corners[:, None] + offsets).reshape(-1)
    pixel = index % (height * width)
    return index // (height * width), pixel // width, pixel % width
