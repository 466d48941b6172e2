"""Benchmark of the stylized NeRF: time per style, render FPS, and path consistency.

For one scene (default fern, images_8) and a few styles, for ``mutual: true`` and ``false``:

* wall time of ``stylize`` + ``render`` per style (goal: <= 60 s per style on an H100);
* render FPS of the stylized NeRF at the path size (504x378 for fern; goal: >= 60), timed
  separately from file writing, after a warm-up;
* masked warp RMSE between frames (i, i+1) and (i, i+7) of the rendered path, for the stylized
  NeRF and for per-frame AdaIN (the pre-trained decoder) on the same unstylized NeRF frames; the
  unstylized frames themselves as the floor. Warp: ``stylizednerf.warp.backward_warp`` with the
  pre-trained NeRF's path depth and the path cameras (the evaluation's protocol).

Needs the upstream outputs of the pipeline for that scene: the pre-trained NeRF, the training
views, the decoder, the style latents and the style PNGs, e.g. on a GPU machine::

    snakemake --cores all --configfile config/paper.yaml results/fern/views/cameras.json \\
        results/stylization2d/style_latents.json results/styles/{brushstrokes,mondrian,picasso_self_portrait}.png
    python bench/stylize.py --scene fern --styles brushstrokes mondrian picasso_self_portrait

On a CPU, against the demo (after ``snakemake --cores all``), tiny and quick::

    python bench/stylize.py --scene demo --styles strokes --tiny

Writes ``<out>/bench.json`` and ``<out>/frames_<style>.jpg`` (rows: NeRF, AdaIN, mutual,
sequential; columns: frames along the path; half size, small enough to fetch from a GPU machine).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stylizednerf  # noqa: E402,F401  (compat shim first)
from stylizednerf.cameras import read_cameras  # noqa: E402
from stylizednerf.stylize import cli  # noqa: E402

TINY = {"rounds": 2, "decoder_steps": 2, "nerf_steps": 10, "batch_views": 2, "rays": 1024, "hidden": 32, "layers": 2}


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def load_frames(folder: Path, cameras) -> torch.Tensor:
    return torch.stack([cli.load_rgb(folder / c.file) for c in cameras.cameras])


def path_consistency(frames: torch.Tensor, depths: torch.Tensor, cameras, gaps) -> dict:
    """{gap: mean masked RMSE, valid fraction} over frame pairs (i, i+g): the evaluation's protocol
    (``stylizednerf.metrics.consistency``, backward warp with the NeRF's path depth)."""
    from stylizednerf.metrics.consistency import consistency

    K = torch.tensor(np.stack([c.intrinsics for c in cameras.cameras]), dtype=torch.float32)
    c2w = torch.tensor(cameras.camera_to_world(), dtype=torch.float32)
    per_gap = consistency(frames, depths, K, c2w, gaps=tuple(gaps))["per_gap"]
    return {gap: {"rmse": v["rmse"], "valid_fraction": v["valid_fraction"]} for gap, v in per_gap.items()}


@torch.no_grad()
def adain_frames(frames: torch.Tensor, decoder_path, style_path, device) -> torch.Tensor:
    """Per-frame AdaIN of the unstylized frames with the pre-trained decoder (the 2D baseline)."""
    from stylizednerf.stylization2d.decoder import load_decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.train import decode, style_features

    encoder, decoder = VGGEncoder().to(device), load_decoder(decoder_path).to(device).eval()
    style = style_features(encoder, cli.load_rgb(style_path).permute(2, 0, 1)[None].to(device))
    out = []
    for frame in frames:
        stylized, _, _ = decode(encoder, decoder, frame.permute(2, 0, 1)[None].to(device), style)
        out.append(stylized[0].float().clamp(0, 1).permute(1, 2, 0).cpu())
    return torch.stack(out)


@torch.no_grad()
def render_fps(stylized_dir, model_path, path_cameras, device, frames: int) -> float:
    """Frames per second of the stylized NeRF alone (no file writing), after 2 warm-up frames."""
    from stylizednerf.stylize.field import load_field
    from stylizednerf.stylize.train import load_style_module

    state = torch.load(Path(stylized_dir) / "model.pt", map_location="cpu", weights_only=True)
    renderer = cli.StyleRenderer(load_field(model_path, device), load_style_module(state, device), state,
                                 int(cli.RENDER_DEFAULTS["chunk"]), device)
    mu = state["mu"][0].to(device)
    cams = path_cameras.cameras
    for camera in cams[:2]:
        renderer.render(camera, mu)
    sync(device)
    start = time.perf_counter()
    count = 0
    for k in range(frames):
        renderer.render(cams[k % len(cams)], mu)
        count += 1
    sync(device)
    return count / (time.perf_counter() - start)


def run_stage(args: list, settings: dict, log: Path) -> None:
    """``python -m stylizednerf <args> --settings <json>`` in a new process, output to ``log``."""
    import subprocess

    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "stylizednerf", *map(str, args), "--settings", json.dumps(settings)]
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"error: {args[0]} failed (exit {done.returncode}); see {log}:\n{log.read_text()[-2000:]}")


def grid_image(rows: list[torch.Tensor], picks) -> np.ndarray:
    return np.concatenate([np.concatenate([cli.to_uint8(r[k]) for k in picks], axis=1) for r in rows], axis=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scene", default="fern")
    parser.add_argument("--styles", nargs="+", default=["brushstrokes", "mondrian", "picasso_self_portrait"])
    parser.add_argument("--results", default="results", help="the pipeline's results folder")
    parser.add_argument("--out", default=None, help="default: <results>/bench/stylize")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=120, help="path frames")
    parser.add_argument("--width", type=int, default=None, help="frame width (default: the training images')")
    parser.add_argument("--fps-frames", type=int, default=60, help="frames timed for the FPS number")
    parser.add_argument("--gaps", type=int, nargs="+", default=[1, 7])
    parser.add_argument("--set", default="{}", help="JSON overrides of the stylize settings")
    parser.add_argument("--tiny", action="store_true", help="CPU check: few steps, 10 frames, 64 px wide")
    parser.add_argument("--modes", nargs="+", default=["mutual", "sequential"], choices=["mutual", "sequential"])
    args = parser.parse_args(argv)

    results = Path(args.results)
    out = Path(args.out) if args.out else results / "bench" / "stylize"
    out.mkdir(parents=True, exist_ok=True)
    device = cli.pick_device(args.device)
    scene = results / args.scene
    model, cameras_file, views = scene / "nerf" / "model.pt", scene / "poses" / "cameras.json", scene / "views"
    decoder, latents = results / "stylization2d" / "decoder.pt", results / "stylization2d" / "style_latents.json"
    for path in (model, cameras_file, views / "cameras.json", decoder, latents):
        cli.require(path, "upstream output (run the pipeline up to render_views / train_vae first)")
    overrides = json.loads(args.set)
    frames, width, fps_frames = args.frames, args.width, args.fps_frames
    if args.tiny:
        overrides = {**TINY, **overrides}
        frames, width, fps_frames = min(frames, 10), width or 64, min(fps_frames, 4)
    render_settings = {"frames": frames, "width": width, "device": str(device)}

    # the unstylized path: reference frames, depth for the warps, and the input of per-frame AdaIN
    start = time.perf_counter()
    cli.render_unstylized_path(model, cameras_file, out / "path", render_settings)
    path_cameras = read_cameras(out / "path" / "cameras.json")
    nerf_frames = load_frames(out / "path" / "frames", path_cameras)
    depths = torch.stack([torch.from_numpy(np.load(out / "path" / "depth" / (Path(c.file).stem + ".npy")))
                          for c in path_cameras.cameras]).float()
    report = {
        "scene": args.scene, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "frame_size": [path_cameras.cameras[0].width, path_cameras.cameras[0].height], "frames": frames,
        "stylize_settings": overrides, "path_seconds": round(time.perf_counter() - start, 2),
        "nerf": {"consistency": path_consistency(nerf_frames, depths, path_cameras, args.gaps)}, "styles": {},
    }
    print(json.dumps(report["nerf"]), flush=True)

    for style in args.styles:
        style_png = cli.require(results / "styles" / f"{style}.png", "style image")
        adain = adain_frames(nerf_frames, decoder, style_png, device)
        entry = {"adain": {"consistency": path_consistency(adain, depths, path_cameras, args.gaps)}}
        rows = [nerf_frames, adain]
        for mode in args.modes:
            folder = out / mode / style
            settings = {**overrides, "mutual": mode == "mutual", "device": str(device), "seed": 0}
            # the pipeline's own commands, each in its own process: the wall times include start-up,
            # model loading, checkpoints and file writing, as in a `stylize` + `render` job
            t0 = time.perf_counter()
            run_stage(["stylize", "--views", views, "--model", model, "--decoder", decoder, "--latents", latents,
                       "--style-image", style_png, "--style", style, "--out", folder / "stylize",
                       "--checkpoint-dir", folder / "stylize_ckpt"], settings, folder / "stylize.log")
            t1 = time.perf_counter()
            run_stage(["render", "--stylized", folder / "stylize", "--model", model, "--cameras", cameras_file,
                       "--out", folder / "render"], render_settings, folder / "render.log")
            t2 = time.perf_counter()
            stats = json.loads((folder / "render" / "metadata.json").read_text())["stats"]
            stylized = load_frames(folder / "render" / "frames", path_cameras)
            rows.append(stylized)
            entry[mode] = {
                "stylize_seconds": round(t1 - t0, 2), "render_seconds": round(t2 - t1, 2),
                "total_seconds": round(t2 - t0, 2), "render_stage_fps": stats["fps"],
                "render_fps": round(render_fps(folder / "stylize", model, path_cameras, device, fps_frames), 2),
                "consistency": path_consistency(stylized, depths, path_cameras, args.gaps),
                "final_losses": json.loads((folder / "stylize" / "losses.json").read_text())["log"][-1],
            }
            print(style, mode, json.dumps({k: v for k, v in entry[mode].items() if k != "final_losses"}), flush=True)
        report["styles"][style] = entry
        picks = np.linspace(0, len(nerf_frames) - 1, 4).round().astype(int)
        from PIL import Image

        grid = Image.fromarray(grid_image(rows, picks))
        grid.resize((grid.width // 2, grid.height // 2), Image.LANCZOS).save(out / f"frames_{style}.jpg", quality=88)
        (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")  # after every style: a cut-off run reports

    print(f"wrote {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
