"""Pre-train the AdaIN decoder: ``python -m stylizednerf pretrain-decoder``.

    python -m stylizednerf pretrain-decoder --settings '<json>' --contents A [B ...] \
        --styles s1.png [s2.png ...] --out results/stylization2d [--checkpoint-dir DIR]

Contents are cameras.json files (their images), folders of images, or image files; the
``extra_content`` setting adds one more folder. Each iteration: a batch of random resized,
randomly flipped square crops of contents, each paired with a random crop of a random style;
loss = content_weight * content + style_weight * style (AdaIN, METHOD.md section 3), Adam with
lr / (1 + lr_decay * i). Training ends after ``iterations``, or earlier with ``stop: plateau`` at the
first logged iteration where the windowed loss stopped falling (:mod:`stylizednerf.stylization2d.plateau`),
or at the ``max_seconds`` budget; ``decoder_metrics.json`` and ``decoder.pt`` record where and why
(``stopped``). Writes ``decoder.pt`` ({'decoder': state_dict, ...}), ``samples.png``
(contents x styles, refreshed every ``sample_every`` iterations and at the end) and
``decoder_metrics.json`` (loss curve, speed, metadata). A checkpoint every ``checkpoint_every``
iterations in ``--checkpoint-dir`` (default: ``<out>_ckpt``; a
:class:`stylizednerf.checkpoint.Checkpoint` fingerprinted by the result settings and the content
and style images' bytes) resumes a killed run of the same settings and inputs; it is removed when
the outputs are written.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from stylizednerf.stylization2d.adain import adain
from stylizednerf.stylization2d.decoder import Decoder
from stylizednerf.stylization2d.losses import content_loss, style_loss
from stylizednerf.stylization2d.plateau import describe as describe_plateau, plateau_at
from stylizednerf.stylization2d.stylize import autocast, resolve_device, stylize_images
from stylizednerf.settings import DecoderSettings
from stylizednerf.progress import progress_bar

DEFAULTS = DecoderSettings().to_dict()  # the schema's decoder section + seed, device
CHECKPOINT_KIND = "pretrain-decoder/2"  # bump when the saved state changes shape


def decoder_step(encoder, decoder, content: torch.Tensor, style: torch.Tensor, style_weight: float,
                 content_weight: float = 1.0):
    """One AdaIN training loss: (total, content, style), all float32 scalars with a graph."""
    batch = content.shape[0]
    with torch.no_grad():
        feats = encoder.features(torch.cat([content, style]))  # one pass for both halves
    content_feat = feats[-1][:batch]
    style_feats = [f[batch:] for f in feats]
    target = adain(content_feat, style_feats[-1]).to(content_feat.dtype)
    output = decoder(target)
    out_feats = encoder.features(output)
    loss_c = content_loss(out_feats[-1], target)
    loss_s = style_loss(out_feats, style_feats)
    return content_weight * loss_c + style_weight * loss_s, loss_c, loss_s


def make_grid(contents: torch.Tensor, styles: torch.Tensor, decoder, encoder, batch_size: int = 8) -> np.ndarray:
    """uint8 image: top row the styles, left column the contents, cell (i, j) = content i in style j."""
    from stylizednerf.stylization2d.data import to_uint8

    n_c, n_s, size = contents.shape[0], styles.shape[0], contents.shape[-1]
    rows = [torch.cat([torch.ones(1, 3, size, size, device=styles.device), styles])]
    was_training = decoder.training
    decoder.eval()
    for i in range(n_c):
        images = contents[i:i + 1].expand(n_s, -1, -1, -1)
        cells = stylize_images(images, styles, decoder, encoder, batch_size=batch_size)
        rows.append(torch.cat([contents[i:i + 1], cells.to(contents.device)]))
    decoder.train(was_training)
    grid = torch.cat([torch.cat(list(row), dim=-1) for row in rows], dim=-2)  # (3, H, W)
    return to_uint8(grid)


def train_decoder(settings: dict, content_paths, style_paths, out_dir, checkpoint_dir=None,
                  progress: bool = True) -> dict:
    """Train a decoder; write decoder.pt, samples.png, decoder_metrics.json in ``out_dir``."""
    from stylizednerf.checkpoint import Checkpoint, fingerprint, hash_files
    from stylizednerf.fileio import check_writable, atomic_save_image, atomic_save_torch, atomic_write_json
    from stylizednerf.provenance import metadata
    from stylizednerf.stylization2d.data import ImageBank
    from stylizednerf.stylization2d.vgg import FEATURE_SCALE, VGGEncoder

    s = DecoderSettings.from_dict(settings).to_dict()
    out_dir = Path(out_dir)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir.parent / f"{out_dir.name}_ckpt"
    check_writable(out_dir)  # before training, not after it
    check_writable(checkpoint_dir)
    checkpoint = Checkpoint(checkpoint_dir / "decoder_ckpt.pt", fingerprint(
        CHECKPOINT_KIND, s, {"contents": hash_files(content_paths), "styles": hash_files(style_paths)}))
    device = resolve_device(s["device"])
    torch.manual_seed(s["seed"])
    if s["crop_size"] % 8:
        raise SystemExit(f"error: decoder.crop_size: {s['crop_size']} is not a multiple of 8")
    if not content_paths:
        raise SystemExit("error: decoder: no content images")
    if not style_paths:
        raise SystemExit("error: decoder: no style images")

    contents = ImageBank.from_paths(content_paths, s["load_size"], device)
    styles = ImageBank.from_paths(style_paths, s["load_size"], device)
    encoder = VGGEncoder().to(device)
    decoder = Decoder().to(device)
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    encoder.to(memory_format=memory_format)
    decoder.to(memory_format=memory_format)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=s["lr"])
    generator = torch.Generator(device=device)
    generator.manual_seed(s["seed"])
    step_fn = torch.compile(decoder_step) if s["compile"] else decoder_step

    start, history, train_seconds = 0, [], 0.0
    state = checkpoint.load(map_location=device)
    if state is not None:
        decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())
        start, history, train_seconds = state["iteration"], state["history"], state["train_seconds"]
        print(f"resumed at iteration {start}")

    # fixed sample grid inputs: the first contents / styles, centre crops
    sample_c = contents.center_crops(s["sample_size"])[: s["sample_contents"]]
    sample_s = styles.center_crops(s["sample_size"])[: s["sample_styles"]]

    def write_samples():
        atomic_save_image(out_dir / "samples.png", make_grid(sample_c, sample_s, decoder, encoder))

    def save_checkpoint(iteration):
        checkpoint.save({
            "decoder": decoder.state_dict(), "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(), "iteration": iteration, "history": history,
            "train_seconds": train_seconds})

    def stop_reason() -> dict | None:
        """Why training ends at the last logged iteration (None: it goes on)."""
        if not history:
            return None
        if s["max_seconds"] and train_seconds >= s["max_seconds"]:
            return {"reason": "max_seconds", "iteration": history[-1]["iteration"], "max_seconds": s["max_seconds"]}
        if s["stop"] == "plateau":
            found = plateau_at(history, len(history) - 1, s["plateau_window"], s["plateau_tolerance"])
            if found is not None:
                return {"reason": "plateau", **found, "rule": describe_plateau(s["plateau_window"], s["plateau_tolerance"])}
        return None

    decoder.train()
    running = torch.zeros(3, device=device)  # summed (total, content, style) since the last log
    count = 0
    stopped = stop_reason() if start < s["iterations"] else None  # a resumed run that had already stopped
    end = start if stopped else s["iterations"]
    bar = progress_bar(range(start, end), initial=start, total=s["iterations"], desc="pretrain-decoder",
                       disable=not progress)
    tic = time.perf_counter()
    for i in bar:
        for group in optimizer.param_groups:
            group["lr"] = s["lr"] / (1.0 + s["lr_decay"] * i)
        content = contents.random_crops(s["batch_size"], s["crop_size"], generator, s["min_scale"])
        style = styles.random_crops(s["batch_size"], s["crop_size"], generator, s["min_scale"])
        content = content.contiguous(memory_format=memory_format)
        style = style.contiguous(memory_format=memory_format)
        with autocast(device):
            loss, loss_c, loss_s = step_fn(encoder, decoder, content, style, s["style_weight"], s["content_weight"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += torch.stack([loss.detach(), loss_c.detach(), loss_s.detach()])
        count += 1
        done = i + 1
        if done % s["log_every"] == 0 or done == s["iterations"]:
            values = (running / count).tolist()  # the only host sync, once per log interval
            now = time.perf_counter()
            train_seconds += now - tic
            tic = now
            history.append({"iteration": done, "loss": values[0], "content": values[1], "style": values[2],
                            "seconds": round(train_seconds, 3)})
            bar.set_postfix(loss=f"{values[0]:.3f}", content=f"{values[1]:.3f}", style=f"{values[2]:.3f}")
            running.zero_()
            count = 0
            stopped = stop_reason()
            if stopped is not None:
                bar.close()
                if stopped["reason"] == "plateau":
                    print(f"stopping at iteration {done}: plateau ({stopped['rule']}: "
                          f"{stopped['smoothed_loss_window_before']:.4f} -> {stopped['smoothed_loss']:.4f}, "
                          f"{stopped['relative_improvement']:+.2%})")
                else:
                    print(f"stopping at iteration {done}: max_seconds={s['max_seconds']} reached")
                save_checkpoint(done)
                break
        sample_now = done % s["sample_every"] == 0 and done < s["iterations"]
        # also at the end: a job killed while writing its outputs only writes them again
        checkpoint_now = done % s["checkpoint_every"] == 0 or done == s["iterations"]
        if sample_now or checkpoint_now:  # keep their time out of the training time
            if device.type == "cuda":
                torch.cuda.synchronize()
            train_seconds += time.perf_counter() - tic
            if sample_now:
                write_samples()
            if checkpoint_now:
                save_checkpoint(done)
            tic = time.perf_counter()
    bar.close()

    style_names = [Path(p).stem for p in style_paths]
    finished = history[-1]["iteration"] if history else start
    if stopped is None:
        stopped = {"reason": "iterations", "iteration": finished, "iterations": s["iterations"]}
        print(f"stopping at iteration {finished}: all {s['iterations']} iterations done")
    state = {k: v.detach().float().cpu().contiguous() for k, v in decoder.state_dict().items()}
    atomic_save_torch(out_dir / "decoder.pt", {
        "decoder": state, "iterations": finished, "styles": style_names,
        "feature_scale": FEATURE_SCALE, "settings": s, "stopped": stopped})
    write_samples()
    iters_done = finished - start
    report = {
        "iterations": finished, "resumed_from": start, "train_seconds": round(train_seconds, 3),
        "iterations_per_second": None if not history else round(history[-1]["iteration"] / max(train_seconds, 1e-9), 3),
        "final": history[-1] if history else None, "stopped": stopped, "history": history,
        "contents": [str(p) for p in content_paths], "styles": [str(p) for p in style_paths],
        "device": str(device), "iterations_this_run": iters_done,
        "metadata": metadata("pretrain-decoder", config=s, seed=s["seed"]),
    }
    atomic_write_json(out_dir / "decoder_metrics.json", report)
    checkpoint.remove()  # the outputs are complete: a rerun starts afresh
    return report


def main(argv=None) -> int:
    from stylizednerf.stylization2d.data import content_image_paths

    parser = argparse.ArgumentParser(prog="python -m stylizednerf pretrain-decoder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="{}", help="JSON: the config's decoder section + seed, device")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    parser.add_argument("--contents", nargs="+", default=[], help="cameras.json files, image folders or images")
    parser.add_argument("--styles", nargs="+", required=True, help="style images")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--checkpoint-dir", default=None, help="default: <out>_ckpt")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    settings = DecoderSettings.parse(args.settings, args.runtime).to_dict()
    sources = list(args.contents)
    if settings.get("extra_content"):
        from stylizednerf.config import ConfigError, expand_data

        try:
            sources.append(expand_data(settings["extra_content"], "decoder.extra_content"))
        except ConfigError as error:
            raise SystemExit(f"error: {error}") from error
    content_paths = content_image_paths(sources)
    for path in args.styles:
        if not Path(path).is_file():
            raise SystemExit(f"error: {path}: style image does not exist")
    report = train_decoder(settings, content_paths, args.styles, args.out, args.checkpoint_dir,
                           progress=not args.no_progress)
    final = report["final"] or {}
    print(f"decoder: {report['iterations']} iterations, {report['train_seconds']:.1f} s training, "
          f"final loss {final.get('loss', float('nan')):.4f} (content {final.get('content', float('nan')):.4f}, "
          f"style {final.get('style', float('nan')):.4f})")
    return 0
