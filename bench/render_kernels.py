"""Time the stylized renderer's last two Triton kernels at rendering size against eager code.

One 504x378 view at 48 samples per ray: 190512 rays, ~9.1 M samples.

* style kernel (style MLP + weights under one shared code) against ``render_samples``' eager
  path (selection of the kept samples + bf16 layers + ``index_add``), for each launch
  configuration (rows per program, warps), each in its own process (a failing configuration
  cannot poison the others' CUDA context);
* weights kernel against ``render_weights`` + ``expected_parameter``.

Prints and writes JSON (ms per view, max colour / weight difference against eager):

    python bench/render_kernels.py --out results/bench/render_kernels.json
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stylizednerf  # noqa: E402,F401
from hash_lookup import timed  # noqa: E402  (bench/ is on sys.path when a bench script runs)

CONFIGS = ["64,4", "128,4", "128,8", "256,8"]


def inputs(rays, samples, device):
    torch.manual_seed(0)
    features = (torch.randn(rays, samples, 32, device=device) * 0.5).to(
        torch.bfloat16 if device.type == "cuda" else torch.float32)
    weights = torch.rand(rays, samples, device=device) * (2.0 / samples)
    weights[torch.rand(rays, samples, device=device) < 0.2] = 0.0  # ~20 % below the threshold, as on fern
    return features, weights


def style_child(rays, samples, repeats) -> dict:
    """One launch configuration (from the environment) in this process."""
    from stylizednerf.stylize import style_kernel
    from stylizednerf.stylize.style_module import StyleModule, render_samples

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    module = StyleModule(32).to(device)
    features, weights = inputs(rays, samples, device)
    latent = torch.randn(32, device=device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    def render():
        with autocast:
            return render_samples(module, weights, features, latent, background=0.5)

    out = {"config": os.environ.get("STYLIZEDNERF_STYLE_KERNEL", "default")}
    with torch.no_grad():
        start = time.perf_counter()
        fused = render().float()
        if cuda:
            torch.cuda.synchronize()
        out["first_call_s"] = round(time.perf_counter() - start, 3)
        if style_kernel._failed:
            out["failed"] = True
            return out
        out["kernel_ms"] = round(timed(render, repeats, cuda), 3)
        style_kernel._failed = True  # the eager path from here on
        eager = render().float()
        out["eager_ms"] = round(timed(render, repeats, cuda), 3)
        out["max_abs_difference"] = float((fused - eager).abs().max())
        out["mean_abs_difference"] = float((fused - eager).abs().mean())
    return out


def weights_timing(rays, samples, repeats) -> dict:
    from stylizednerf.nerf import weights_kernel
    from stylizednerf.nerf.rendering import expected_parameter, render_weights

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    sigma = torch.rand(rays, samples, device=device) * 50.0
    edges = torch.sort(torch.rand(rays, samples + 1, device=device), dim=-1).values
    deltas = edges[:, 1:] - edges[:, :-1]

    def eager():
        w = render_weights(sigma, deltas)
        return w, expected_parameter(w, edges)

    with torch.no_grad():
        fused = weights_kernel.weights_or_none(sigma, deltas, edges)
        if fused is None:
            return {"failed": True}
        reference = eager()
        return {"kernel_ms": round(timed(lambda: weights_kernel.weights_or_none(sigma, deltas, edges), repeats, cuda),
                                   3),
                "eager_ms": round(timed(eager, repeats, cuda), 3),
                "max_weight_difference": float((fused[0] - reference[0]).abs().max()),
                "max_s_difference": float((fused[1] - reference[1]).abs().max())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rays", type=int, default=504 * 378)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help="rows,warps of the style kernel")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(style_child(args.rays, args.samples, args.repeats)))
        return 0
    report = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
              "rays": args.rays, "samples": args.samples, "style": [],
              "weights": weights_timing(args.rays, args.samples, args.repeats)}
    print(json.dumps(report["weights"]), flush=True)
    for config in args.configs:
        env = {**os.environ, "STYLIZEDNERF_STYLE_KERNEL": config}
        done = subprocess.run([sys.executable, __file__, "--child", "--rays", str(args.rays), "--samples",
                               str(args.samples), "--repeats", str(args.repeats)],
                              env=env, capture_output=True, text=True, timeout=300)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if done.returncode == 0 and lines else {
            "config": config, "failed": True, "exit": done.returncode, "stderr": done.stderr[-1500:]}
        print(json.dumps(result), flush=True)
        report["style"].append(result)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
