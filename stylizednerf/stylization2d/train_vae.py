"""Train the style VAE: ``python -m stylizednerf train-vae``.

    python -m stylizednerf train-vae --settings '<json>' --styles s1.png [s2.png ...] \
        --out results/stylization2d [--checkpoint-dir DIR]

Samples: ``crops_per_style`` random resized crops of each style image, encoded to relu4_1
channel means and stds (1024 values each). Writes ``vae.pt``, ``style_latents.json``
(``{style: {"mu": [32], "sigma": [32]}}``: the posterior of the whole style image, style name =
file stem), ``latents.png`` (PCA of the posterior means: each style's crops as a cloud, the
whole image as a labelled star, samples from N(mu, sigma^2) as faint dots) and
``vae_metrics.json``. A checkpoint every ``checkpoint_every`` iterations in ``--checkpoint-dir``
(default: ``<out>_ckpt``; a :class:`stylizednerf.checkpoint.Checkpoint` fingerprinted by the result
settings and the style images' bytes) resumes a killed run of the same settings and inputs; it is
removed when the outputs are written.
"""

import argparse
import time
from pathlib import Path

import torch

from stylizednerf.stylization2d.stylize import autocast, resolve_device
from stylizednerf.stylization2d.vae import StyleVAE, style_statistics, vae_loss
from stylizednerf.settings import VaeSettings
from stylizednerf.progress import progress_bar

DEFAULTS = VaeSettings().to_dict()  # the schema's vae section + seed, device
CHECKPOINT_KIND = "train-vae/2"  # bump when the saved state changes shape


@torch.no_grad()
def crop_statistics(encoder, bank, crops_per_style: int, crop_size: int, min_scale: float, generator,
                    batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(S * crops_per_style, 1024) statistics of random crops and their style index."""
    device = bank.images.device
    labels = torch.arange(len(bank), device=device).repeat_interleave(crops_per_style)
    stats = []
    for start in range(0, labels.numel(), batch):
        index = labels[start:start + batch]
        crops = bank.random_crops(index.numel(), crop_size, generator, min_scale, index=index)
        with autocast(device):
            stats.append(style_statistics(encoder(crops)))
    return torch.cat(stats), labels


@torch.no_grad()
def image_statistics(encoder, arrays, device) -> torch.Tensor:
    """(S, 1024) statistics of each whole style image (as loaded)."""
    from stylizednerf.stylization2d.data import to_tensor

    out = []
    for array in arrays:
        with autocast(device):
            out.append(style_statistics(encoder(to_tensor(array).to(device))))
    return torch.cat(out)


def plot_latents(path, names, mu, crops_mu, labels, samples):
    """PCA (fit on all crop means) of the latents, one colour per style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stylizednerf.fileio import atomic_path

    center = crops_mu.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(crops_mu - center, full_matrices=False)
    basis = vh[:2].T if vh.shape[0] >= 2 else torch.eye(mu.shape[1], 2)
    project = lambda x: ((x - center) @ basis).numpy()  # noqa: E731
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab20")
    for s, name in enumerate(names):
        color = cmap(s % 20)
        ax.scatter(*project(samples[s]).T, s=4, color=color, alpha=0.25, linewidths=0)
        ax.scatter(*project(crops_mu[labels == s]).T, s=10, color=color, alpha=0.6, linewidths=0)
        point = project(mu[s:s + 1])[0]
        ax.scatter(*point, s=160, marker="*", color=color, edgecolors="black", linewidths=0.8, label=name)
        ax.annotate(name, point, fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title("style latents (PCA of posterior means): crops, whole image (star), samples")
    ax.legend(fontsize=6, loc="best", ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def train_vae(settings: dict, style_paths, out_dir, checkpoint_dir=None, progress: bool = True) -> dict:
    from stylizednerf.checkpoint import Checkpoint, fingerprint, hash_files
    from stylizednerf.fileio import check_writable, atomic_save_torch, atomic_write_json
    from stylizednerf.provenance import metadata
    from stylizednerf.stylization2d.data import ImageBank
    from stylizednerf.stylization2d.vgg import FEATURE_SCALE, VGGEncoder

    s = VaeSettings.from_dict(settings).to_dict()
    out_dir = Path(out_dir)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else out_dir.parent / f"{out_dir.name}_ckpt"
    check_writable(out_dir)  # before training, not after it
    check_writable(checkpoint_dir)
    checkpoint = Checkpoint(checkpoint_dir / "vae_ckpt.pt",
                            fingerprint(CHECKPOINT_KIND, s, {"styles": hash_files(style_paths)}))
    device = resolve_device(s["device"])
    torch.manual_seed(s["seed"])
    names = [Path(p).stem for p in style_paths]
    if len(set(names)) != len(names):
        raise SystemExit("error: styles: two style files share a name stem")
    generator = torch.Generator(device=device)
    generator.manual_seed(s["seed"])

    tic = time.perf_counter()
    bank = ImageBank.from_paths(style_paths, s["load_size"], device)
    encoder = VGGEncoder().to(device)
    data, labels = crop_statistics(encoder, bank, s["crops_per_style"], s["crop_size"], s["min_scale"], generator)
    whole = image_statistics(encoder, bank.arrays, device)
    feature_seconds = time.perf_counter() - tic

    vae = StyleVAE(data.shape[1], s["hidden"], s["latent_dim"]).to(device)
    with torch.no_grad():  # start the reconstruction at the data mean: the shared part needs no learning
        vae.decoder[-1].bias.copy_(data.mean(0))
    optimizer = torch.optim.Adam(vae.parameters(), lr=s["lr"])
    start, history = 0, []
    state = checkpoint.load(map_location=device)
    if state is not None:
        vae.load_state_dict(state["vae"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())
        start, history = state["iteration"], state["history"]
        print(f"resumed at iteration {start}")

    running = torch.zeros(3, device=device)
    count = 0
    tic = time.perf_counter()
    vae.train()
    for i in progress_bar(range(start, s["iterations"]), initial=start, total=s["iterations"], desc="train-vae",
                          disable=not progress):
        index = torch.randint(data.shape[0], (s["batch_size"],), generator=generator, device=device)
        x = data[index]
        reconstruction, mu, logvar = vae(x, generator)
        loss, recon, kl = vae_loss(x, reconstruction, mu, logvar, s["kl_weight"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += torch.stack([loss.detach(), recon.detach(), kl.detach()])
        count += 1
        done = i + 1
        if done % s["log_every"] == 0 or done == s["iterations"]:
            values = (running / count).tolist()
            history.append({"iteration": done, "loss": values[0], "reconstruction": values[1], "kl": values[2]})
            running.zero_()
            count = 0
        if done % s["checkpoint_every"] == 0 or done == s["iterations"]:
            checkpoint.save({"vae": vae.state_dict(), "optimizer": optimizer.state_dict(),
                             "generator": generator.get_state(), "iteration": done, "history": history})
    train_seconds = time.perf_counter() - tic

    vae.eval()
    with torch.no_grad():
        mu, logvar = vae.encode(whole)
        sigma = (0.5 * logvar).exp()
        crops_mu, _ = vae.encode(data)
        noise = torch.randn(len(names), s["plot_samples"], mu.shape[1], generator=generator, device=device)
        samples = mu[:, None] + noise * sigma[:, None]
        # how well the posterior means reconstruct each style's statistics (relative error)
        recon_whole = vae.decode(mu)
        relative = ((recon_whole - whole).norm(dim=1) / whole.norm(dim=1)).tolist()
        recon_crops = vae.decode(crops_mu)
        relative_crops = ((recon_crops - data).norm(dim=1) / data.norm(dim=1)).mean().item()
    latents = {name: {"mu": mu[k].tolist(), "sigma": sigma[k].tolist()} for k, name in enumerate(names)}

    atomic_save_torch(out_dir / "vae.pt", {
        "vae": {k: v.detach().float().cpu() for k, v in vae.state_dict().items()},
        "features": data.shape[1], "hidden": s["hidden"], "latent": s["latent_dim"], "styles": names,
        "feature_scale": FEATURE_SCALE, "settings": s})
    atomic_write_json(out_dir / "style_latents.json", latents)
    plot_latents(out_dir / "latents.png", names, mu.cpu(), crops_mu.cpu(), labels.cpu(), samples.cpu())
    report = {
        "iterations": s["iterations"], "resumed_from": start, "feature_seconds": round(feature_seconds, 3),
        "train_seconds": round(train_seconds, 3), "samples": int(data.shape[0]),
        "final": history[-1] if history else None, "history": history,
        "relative_reconstruction_error": {"whole_images": dict(zip(names, relative)), "crops_mean": relative_crops},
        "mean_sigma": {name: float(sigma[k].mean()) for k, name in enumerate(names)},
        "device": str(device), "metadata": metadata("train-vae", config=s, seed=s["seed"]),
    }
    atomic_write_json(out_dir / "vae_metrics.json", report)
    checkpoint.remove()  # the outputs are complete: a rerun starts afresh
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylizednerf train-vae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="{}", help="JSON: the config's vae section + seed, device")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    parser.add_argument("--styles", nargs="+", required=True, help="style images (name = file stem)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--checkpoint-dir", default=None, help="default: <out>_ckpt")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    settings = VaeSettings.parse(args.settings, args.runtime).to_dict()
    for path in args.styles:
        if not Path(path).is_file():
            raise SystemExit(f"error: {path}: style image does not exist")
    report = train_vae(settings, args.styles, args.out, args.checkpoint_dir, progress=not args.no_progress)
    final = report["final"] or {}
    print(f"vae: {report['iterations']} iterations on {report['samples']} crops, features "
          f"{report['feature_seconds']:.1f} s + training {report['train_seconds']:.1f} s, final reconstruction "
          f"{final.get('reconstruction', float('nan')):.4f}, KL {final.get('kl', float('nan')):.3f}")
    return 0
