"""Benchmark + quality check of AdaIN decoder pre-training (issue 5).

GPU (the real run, ~fern images_8 + the 19 styles, 4 held out):
    python bench/decoder.py --contents ../shared/data/scenes/fern/images_8 \
        --styles ../shared/data/styles --out bench_out/decoder --iterations 20000
CPU smoke test (tiny, a minute):
    python bench/decoder.py --contents ../shared/data/scenes/fern/images_8 \
        --styles ../shared/data/styles --out /tmp/bench_decoder --tiny

Measures
- speed: training iterations/s at --crop (256) x --batch (8), from the logged wall times after the
  first log interval (warm-up, cudnn autotuning, compilation excluded); one host sync per
  --log-every iterations, bf16 autocast + channels_last on CUDA, crops cut on the GPU.
- plateau: S(t) = mean of the logged (already --log-every averaged) training losses over the last
  --plateau-window iterations; the plateau is the first logged t >= 2 * window with
  S(t) > (1 - --plateau-tol) * S(t - window), i.e. the smoothed loss improved by less than 1%
  over the last window. Reports its iteration, training seconds and loss.
- quality, on every content photo (native size) x each held-out style (never seen in training),
  and for comparison x a few training styles: the AdaIN style loss (sum over relu1_1..relu4_1 of
  the MSE of channel means + of channel stds, encoder units, see vgg.FEATURE_SCALE) of the
  stylized output vs the style image, and of the *unstylized photo* vs the same style; their
  ratio (mean over photos); the content loss (relu4_1 MSE between the encoded output and the
  AdaIN target, the training objective) and the relu4_1 MSE between output and photo
  (content preservation, for scale: the relu4_1 mean square of the photo).

Writes to --out: results.json, samples.png (photos x held-out + seen styles), curve.png, and the
trained decoder as decoder/decoder.pt (+ decoder/decoder_metrics.json, decoder/samples.png) in the
pipeline's format: copy decoder/* to results/stylization2d/ to reuse it (Snakemake then keeps it
while those files are newer than the style PNGs and cameras.json; `snakemake --touch
results/stylization2d/decoder.pt` marks it up to date otherwise). For the pipeline's styles to
count as seen, keep them out of --holdout (the default holds out none of config/paper.yaml's).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import stylizednerf  # noqa: E402,F401
from stylizednerf.paths import list_images  # noqa: E402

DEFAULT_HOLDOUT = "asheville,en_campo_gris,scene_de_rue,woman_in_peasant_dress"


def plateau(history, window: int, tol: float):
    """The plateau of ``history``: the rule ``decoder.stop: plateau`` stops training by
    (stylizednerf.stylization2d.plateau), applied after the fact."""
    from stylizednerf.stylization2d.plateau import find_plateau

    return find_plateau(history, window, tol)


@torch.no_grad()
def quality(encoder, decoder, photos, style_arrays, device):
    from stylizednerf.stylization2d.adain import adain
    from stylizednerf.stylization2d.data import to_tensor
    from stylizednerf.stylization2d.decoder import pad_to_multiple
    from stylizednerf.stylization2d.losses import style_loss_per_image
    from stylizednerf.stylization2d.stylize import stylize_images

    rows = {}
    for name, array in style_arrays.items():
        style = to_tensor(array).to(device)
        style_feats = [f.float() for f in encoder.features(style)]
        out_sl, photo_sl, content, preserve, scale = [], [], [], [], []
        for photo in photos:
            x = to_tensor(photo).to(device)
            y = stylize_images(x, style, decoder, encoder)
            fy = [f.float() for f in encoder.features(pad_to_multiple(y))]
            fx = [f.float() for f in encoder.features(pad_to_multiple(x))]
            target = adain(fx[-1], style_feats[-1])
            out_sl.append(style_loss_per_image(fy, style_feats).item())
            photo_sl.append(style_loss_per_image(fx, style_feats).item())
            content.append(torch.mean((fy[-1] - target) ** 2).item())
            preserve.append(torch.mean((fy[-1] - fx[-1]) ** 2).item())
            scale.append(torch.mean(fx[-1] ** 2).item())
        rows[name] = {
            "style_loss_stylized": float(np.mean(out_sl)), "style_loss_photo": float(np.mean(photo_sl)),
            "style_ratio": float(np.mean(out_sl) / np.mean(photo_sl)),
            "content_loss_vs_adain_target": float(np.mean(content)),
            "relu4_1_mse_to_photo": float(np.mean(preserve)), "relu4_1_mean_square_photo": float(np.mean(scale)),
        }
    return rows


def plot_curve(path, history, found):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [h["iteration"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for ax, key in zip(axes, ("loss", "content", "style")):
        ax.plot(its, [h[key] for h in history], lw=0.8)
        ax.set_title(key)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
        if found:
            ax.axvline(found["iteration"], color="red", ls="--", lw=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contents", required=True, help="folder of content photos (e.g. fern images_8)")
    p.add_argument("--styles", required=True, help="folder of style images")
    p.add_argument("--out", required=True)
    p.add_argument("--holdout", default=DEFAULT_HOLDOUT, help="comma-separated style stems never trained on")
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--max-seconds", type=float, default=0, help="stop training after this much training time")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--load-size", type=int, default=512)
    p.add_argument("--style-weight", type=float, default=10.0)
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (AdaIN: 1e-4 at batch 8)")
    p.add_argument("--lr-decay", type=float, default=5e-5, help="lr / (1 + lr_decay * iteration)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--plateau-window", type=int, default=1000)
    p.add_argument("--plateau-tol", type=float, default=0.01)
    p.add_argument("--stop", choices=["iterations", "plateau"], default="iterations",
                   help="iterations = train on past the plateau (it is then found after the fact); "
                        "plateau = stop there, as rule pretrain_decoder does with decoder.stop: plateau")
    p.add_argument("--quality-style-size", type=int, default=512, help="shorter side of styles in the quality check")
    p.add_argument("--quality-photos", type=int, default=0, help="score only the first N photos (0 = all)")
    p.add_argument("--quality-size", type=int, default=0, help="resize photos to this shorter side (0 = native)")
    p.add_argument("--seen", type=int, default=4, help="also score this many training styles")
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="CPU smoke size: 24 iterations, crop 64, batch 2")
    args = p.parse_args(argv)
    if args.tiny:
        args.iterations, args.crop, args.batch, args.load_size = 24, 64, 2, 128
        args.log_every, args.plateau_window, args.quality_style_size = 2, 6, 128
        args.quality_photos, args.quality_size, args.seen = 2, 96, 1

    from stylizednerf.fileio import atomic_save_image, atomic_write_json
    from stylizednerf.stylization2d.data import ImageBank, load_rgb
    from stylizednerf.stylization2d.decoder import load_decoder
    from stylizednerf.stylization2d.stylize import resolve_device
    from stylizednerf.stylization2d.train_decoder import make_grid, train_decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder

    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    contents = list_images(Path(args.contents))
    styles = list_images(Path(args.styles))
    holdout = [h for h in args.holdout.split(",") if h]
    missing = sorted(set(holdout) - {s.stem for s in styles})
    if not contents or not styles or missing:
        raise SystemExit(f"error: no contents/styles, or held-out styles not found: {missing}")
    train_styles = [s for s in styles if s.stem not in holdout]
    held_styles = [s for s in styles if s.stem in holdout]
    if args.tiny:
        contents, train_styles = contents[:4], train_styles[:3]

    settings = {"iterations": args.iterations, "batch_size": args.batch, "crop_size": args.crop,
                "load_size": args.load_size, "style_weight": args.style_weight, "log_every": args.log_every,
                "lr": args.lr, "lr_decay": args.lr_decay,
                "sample_every": 10 ** 9, "checkpoint_every": 10 ** 9, "compile": args.compile,
                "max_seconds": args.max_seconds, "seed": args.seed, "stop": args.stop,
                "plateau_window": args.plateau_window, "plateau_tolerance": args.plateau_tol,
                "device": str(device)}
    # a fresh run every time: the checkpoint goes to a scratch folder that is removed first
    ckpt = out / "decoder_ckpt"
    if (ckpt / "decoder_ckpt.pt").exists():
        (ckpt / "decoder_ckpt.pt").unlink()
    tic = time.perf_counter()
    report = train_decoder(settings, contents, train_styles, out / "decoder", ckpt, progress=True)
    wall = time.perf_counter() - tic
    history = report["history"]
    # steady-state speed: exclude the first log interval (warm-up / autotune / compile)
    if len(history) >= 2:
        d_it = history[-1]["iteration"] - history[0]["iteration"]
        d_s = history[-1]["seconds"] - history[0]["seconds"]
        its_per_s = d_it / d_s
    else:
        its_per_s = report["iterations_per_second"]
    found = plateau(history, args.plateau_window, args.plateau_tol)

    encoder = VGGEncoder().to(device)
    decoder = load_decoder(out / "decoder" / "decoder.pt", map_location=device).to(device).eval()
    scored = contents[: args.quality_photos] if args.quality_photos else contents
    photos = [load_rgb(c, short_side=args.quality_size or None) for c in scored]
    if args.tiny:
        held_styles = held_styles[:2]
    held = {s.stem: load_rgb(s, short_side=args.quality_style_size) for s in held_styles}
    seen = {s.stem: load_rgb(s, short_side=args.quality_style_size) for s in train_styles[: args.seen]}
    tic_q = time.perf_counter()
    q_held = quality(encoder, decoder, photos, held, device)
    q_seen = quality(encoder, decoder, photos, seen, device)
    q_seconds = time.perf_counter() - tic_q

    def summary(rows):
        return {k: float(np.mean([r[k] for r in rows.values()])) for k in next(iter(rows.values()))} if rows else {}

    grid_contents = ImageBank(photos[:: max(1, len(photos) // 4)][:4], device).center_crops(192)
    grid_styles = ImageBank(list(held.values()) + list(seen.values())[:2], device).center_crops(192)
    atomic_save_image(out / "samples.png", make_grid(grid_contents, grid_styles, decoder, encoder))
    plot_curve(out / "curve.png", history, found)

    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "settings": settings, "contents": len(contents),
        "quality_photos": len(photos), "quality_photo_size": list(photos[0].shape[:2]),
        "train_styles": [s.stem for s in train_styles], "held_out_styles": [s.stem for s in held_styles],
        "iterations_per_second": its_per_s, "images_per_second": its_per_s * args.batch,
        "train_seconds": report["train_seconds"], "wall_seconds_training_call": wall,
        "plateau_definition": (f"mean logged loss over the last {args.plateau_window} iterations improves by "
                               f"< {args.plateau_tol:.0%} vs the window before"),
        "plateau": found, "stopped": report.get("stopped"), "final_logged": history[-1] if history else None,
        "quality_held_out": summary(q_held), "quality_held_out_per_style": q_held,
        "quality_seen": summary(q_seen), "quality_seen_per_style": q_seen, "quality_seconds": q_seconds,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None,
        "history": history,
    }
    atomic_write_json(out / "results.json", results)
    print(json.dumps({k: results[k] for k in ("device", "iterations_per_second", "train_seconds", "plateau",
                                              "quality_held_out", "quality_seen")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
