"""The per-scene pose report figure: camera positions over the sparse points (top and side views)."""

from pathlib import Path

import numpy as np


def plot_cameras(path: Path, c2w: np.ndarray, points: np.ndarray | None, title: str,
                 reference_c2w: np.ndarray | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = c2w[:, :3, 3]
    # View along the cameras' mean "down" axis (top view) and along their mean right axis (side view).
    down = c2w[:, :3, 1].mean(0)
    forward = c2w[:, :3, 2].mean(0)
    down /= np.linalg.norm(down) + 1e-12
    forward -= forward @ down * down
    forward /= np.linalg.norm(forward) + 1e-12
    right = np.cross(down, forward)
    views = [("top (right, forward)", right, forward), ("side (forward, up)", forward, -down)]
    figure, axes = plt.subplots(1, 2, figsize=(11, 5))
    if points is not None and len(points):
        # Clip far outliers so the cameras stay visible.
        lo, hi = np.percentile(points, 2, axis=0), np.percentile(points, 98, axis=0)
        points = points[((points >= lo) & (points <= hi)).all(1)]
    scale = np.linalg.norm(centres - centres.mean(0), axis=1).mean() * 0.3 + 1e-9
    for ax, (name, a, b) in zip(axes, views):
        if points is not None and len(points):
            ax.scatter(points @ a, points @ b, s=0.5, c="0.6", label=f"{len(points)} sparse points")
        ax.scatter(centres @ a, centres @ b, s=12, c="tab:red", label=f"{len(centres)} cameras")
        tips = centres + scale * c2w[:, :3, 2]
        for start, end in zip(centres, tips):
            ax.plot([start @ a, end @ a], [start @ b, end @ b], c="tab:red", lw=0.8)
        if reference_c2w is not None:
            ref = reference_c2w[:, :3, 3]
            ax.scatter(ref @ a, ref @ b, s=20, facecolors="none", edgecolors="tab:blue", label="reference (aligned)")
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="best", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
