"""Benchmark of the ``poses`` stage (SfM with pycolmap, CPU) on the fox capture.

Runs ``python -m stylizednerf poses`` on ../shared/data/scenes/fox (67 photos, 1080x1920,
transforms.json) in a subprocess and reports wall time, peak RSS of the stage process,
registered fraction, reprojection error, and rotation / centre errors against the poses in
transforms.json (after a similarity alignment), as JSON on stdout and in --json.

    PYTHONPATH=$PWD python bench/poses.py --json results/bench/poses_fox.json \
        --settings '{"max_image_size": 1024, "max_num_features": 4096, "num_threads": 2}'

``--downscale 4`` gives a quick check (270x480 images). Pass criteria from issue 3:
registered >= 95 %, mean rotation error < 1 deg, max < 2 deg.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stylizednerf.paths import data_dir  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=None, help="default: <data>/scenes/fox/transforms.json")
    parser.add_argument("--downscale", type=int, default=1)
    parser.add_argument("--settings", default='{"max_image_size": 1024, "max_num_features": 4096, "num_threads": 2}')
    parser.add_argument("--out", default=None, help="results folder (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args(argv)
    if args.source is None and data_dir() is None:
        raise SystemExit("error: data folder not found: set STYLIZEDNERF_DATA or pass --source")
    source = args.source or str(data_dir() / "scenes" / "fox" / "transforms.json")
    settings = {"seed": 0, **json.loads(args.settings)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "fox")
        command = [sys.executable, "-m", "stylizednerf", "poses", "--scene", "fox", "--source", source,
                   "--downscale", str(args.downscale), "--kind", "360", "--out", str(out),
                   "--settings", json.dumps(settings)]
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout + done.stderr, file=sys.stderr)
            return done.returncode
        # ru_maxrss of waited-for children, in KiB on Linux: the stage process is the only child.
        peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = json.loads((out / "poses" / "report.json").read_text())
    reference = report["reference"]
    result = {
        "benchmark": "poses/fox", "command": " ".join(command[1:]), "settings": settings,
        "downscale": args.downscale, "image_size": report["image_size"],
        "wall_s": round(wall, 1), "stage_timings_s": {k: round(v, 1) for k, v in report["timings_s"].items()},
        "peak_rss_mib": round(peak_rss_mib, 1),
        "registered": report["registered"], "total": report["total"],
        "registered_fraction": report["registered_fraction"],
        "mean_reprojection_error_px": report["mean_reprojection_error_px"], "points": report["points"],
        "mean_track_length": report["mean_track_length"], "mapper_attempts": len(report["attempts"]),
        "rotation_mean_deg": reference["rotation_mean_deg"], "rotation_max_deg": reference["rotation_max_deg"],
        "centre_mean_rel": reference["centre_mean_rel"], "centre_max_rel": reference["centre_max_rel"],
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "passes": bool(report["registered_fraction"] >= 0.95 and reference["rotation_mean_deg"] < 1.0
                       and reference["rotation_max_deg"] < 2.0),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
