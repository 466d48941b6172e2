"""Time the hash-grid lookup at rendering size: eager inference, Triton kernel, differentiable path.

One 504x378 view at 48 samples per ray is ~9.1 M points. Prints and writes JSON (ms per lookup):

    python bench/hash_lookup.py --points 9144576 --out results/bench/hash_lookup.json
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stylizednerf  # noqa: E402,F401
from stylizednerf.nerf import hash_kernel  # noqa: E402
from stylizednerf.nerf.fields import HashEncoding  # noqa: E402


def timed(fn, count, cuda):
    fn()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(count):
        fn()
    if cuda:
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - start) / count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=504 * 378 * 48)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    encoding = HashEncoding().to(device)
    with torch.no_grad():
        encoding.table.uniform_(-1, 1)
    x = torch.rand(args.points, 3, device=device)
    report = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "points": args.points, "ms": {}}
    with torch.no_grad():
        if hash_kernel.available(x):
            start = time.perf_counter()
            fused = encoding(x)
            if cuda:
                torch.cuda.synchronize()
            report["triton_first_call_s"] = round(time.perf_counter() - start, 3)
            report["ms"]["triton"] = round(timed(lambda: encoding(x), args.repeats, cuda), 3)
            os.environ["STYLIZEDNERF_NO_TRITON"] = "1"
            eager = encoding(x)
            report["max_abs_difference"] = float((fused - eager).abs().max())
        os.environ["STYLIZEDNERF_NO_TRITON"] = "1"
        report["ms"]["eager_inference"] = round(timed(lambda: encoding(x), args.repeats, cuda), 3)
        chunk = min(args.points, 1 << 21)  # the (N, L, 8, F) gather of the differentiable path is large
        report["ms"]["differentiable_per_point_x_points"] = round(
            timed(lambda: encoding._forward_training(x[:chunk]), args.repeats, cuda) * args.points / chunk, 3)
    print(json.dumps(report))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
