"""Where the stylized NeRF's time goes: one decoder step, one style-module step, one rendered view.

The issue-6 goal is stylize + render <= 60 s per style and >= 60 FPS at 504x378 on an H100;
this times the three units that make up that budget (after warm-up, synchronised), and prints a
torch.profiler table of the top operators of each, so a speed change can be aimed and checked:

    # on the GPU, after the pipeline produced the fern NeRF, the training views, decoder and latents
    python bench/profile_stylize.py --scene fern --style brushstrokes --out results/bench/profile_stylize
    # CPU check against the demo
    python bench/profile_stylize.py --scene demo --style strokes --steps 3 --out /tmp/profile

Writes ``<out>/profile.json`` (ms per unit, FPS) and ``<out>/profile_<unit>.txt`` (operator tables).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stylizednerf  # noqa: E402,F401  (compat shim first)
from stylizednerf.device import resolve_device  # noqa: E402
from stylizednerf.stylize.cli import build_stylizer  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, count: int, device: torch.device) -> float:
    """Mean seconds per call over ``count`` calls (synchronised at both ends)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(count):
        fn()
    sync(device)
    return (time.perf_counter() - start) / count


def profile_table(fn, count: int, device: torch.device, rows: int = 20) -> str:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(count):
            fn()
        sync(device)
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=70)


@torch.no_grad()
def geometry_only(stylizer, height: int, width: int) -> None:
    """The frozen-geometry part of rendering a view (sampling, hash grid, density), no style MLP."""
    from stylizednerf.stylize.rays import image_rays

    origins, directions = image_rays(stylizer.views.K[0].float(), stylizer.views.c2w[0].float(), height, width)
    chunk = stylizer.s["chunk"]
    for start in range(0, origins.shape[0], chunk):
        stylizer.field.geometry.sample(origins[start:start + chunk], directions[start:start + chunk])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", default="fern")
    parser.add_argument("--style", default="brushstrokes")
    parser.add_argument("--results", default="results", help="the pipeline's results folder")
    parser.add_argument("--out", default=None, help="default: <results>/bench/profile_stylize")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed calls per unit (after 3 warm-up calls)")
    parser.add_argument("--set", default="{}", help="JSON overrides of the stylize settings")
    args = parser.parse_args(argv)

    results = Path(args.results)
    out = Path(args.out) if args.out else results / "bench" / "profile_stylize"
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    scene = results / args.scene
    setup = time.perf_counter()
    stylizer, _ = build_stylizer(scene / "views", scene / "nerf" / "model.pt",
                                 results / "stylization2d" / "decoder.pt",
                                 results / "stylization2d" / "style_latents.json",
                                 results / "styles" / f"{args.style}.png", args.style,
                                 {**json.loads(args.set), "device": str(device)})
    sync(device)
    setup = time.perf_counter() - setup
    stylizer.targets = stylizer.stylize_views()
    stylizer.nerf_renders = stylizer.render_training_views()
    # the first style-module step captures its CUDA graph: before any profiler runs (capture
    # failed after a torch.profiler session on the H100, and the step fell back to eager)
    stylizer.nerf_step()
    H, W = stylizer.views.size
    latent = stylizer.latents(torch.tensor(0, device=device))

    units = {
        "decoder_step": lambda: stylizer.decoder_step(use_mimic=False),
        "decoder_step_mutual": lambda: stylizer.decoder_step(use_mimic=True),
        "nerf_step": stylizer.nerf_step,
        "render_view": lambda: stylizer.field.render_image(stylizer.views.K[0], stylizer.views.c2w[0], H, W, latent),
        "render_view_geometry_only": lambda: geometry_only(stylizer, H, W),
    }
    report = {"scene": args.scene, "style": args.style, "view_size": [W, H], "views": stylizer.views.count,
              "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "settings": stylizer.s, "setup_seconds": round(setup, 3), "ms": {}}
    cache = stylizer.ray_cache
    report["ray_cache"] = None if cache is None else {
        "mb": round(cache.nbytes / 2**20, 1), "samples_per_ray": round(cache.samples_per_ray, 2)}
    for name, fn in units.items():
        for _ in range(3):
            fn()
        report["ms"][name] = round(1000 * timed(fn, args.steps, device), 3)
        (out / f"profile_{name}.txt").write_text(profile_table(fn, min(args.steps, 5), device))
        print(f"{name}: {report['ms'][name]:.2f} ms", flush=True)
    report["ms"]["stylize_views_all"] = round(1000 * timed(stylizer.stylize_views, 1, device), 3)
    report["ms"]["render_training_views_all"] = round(1000 * timed(stylizer.render_training_views, 1, device), 3)
    report["render_fps"] = round(1000.0 / report["ms"]["render_view"], 2)
    s = stylizer.s
    # the training loop's time at these settings, from the units (mutual: rounds > 0 also mimic)
    decoder_ms = report["ms"]["decoder_step_mutual" if s["mutual"] else "decoder_step"]
    report["estimated_training_seconds"] = round(
        (s["rounds"] * s["decoder_steps"] * decoder_ms + s["rounds"] * s["nerf_steps"] * report["ms"]["nerf_step"]
         + s["rounds"] * (report["ms"]["stylize_views_all"] + report["ms"]["render_training_views_all"])) / 1000, 1)
    (out / "profile.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps({k: report[k] for k in ("ms", "render_fps", "estimated_training_seconds")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
