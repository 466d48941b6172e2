"""NeRF pre-training stage: ``python -m stylizednerf pretrain-nerf --cameras C --out DIR --settings JSON``.

Writes into DIR (atomically, as one folder): ``model.pt`` (the best checkpoint by validation PSNR
on a fixed subset of training-view pixels that is never trained on; test views are not used),
``metrics.json`` (test PSNR/SSIM/LPIPS on every ``holdout_every``-th view), ``test/`` renders and
depth maps, ``curve.png`` and ``log.json`` (the training curve). A checkpoint is saved every
``checkpoint_every`` steps into ``DIR_ckpt/last.pt`` (sibling folder, a
:class:`stylizednerf.checkpoint.Checkpoint`: fingerprinted by the result settings, the camera
parameters and the images' bytes); a rerun with the same fingerprint resumes from it, any other
checkpoint is set aside, and it is removed once the outputs are written.

:class:`Trainer` is the reusable core (bench/nerf.py drives it by wall-clock time).
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from stylizednerf.cameras import CameraSet, read_cameras
from stylizednerf.checkpoint import Checkpoint
from stylizednerf.cuda_graph import capture_step
from stylizednerf.images import to_uint8
from stylizednerf.nerf.imagemetrics import lpips_or_none, mse_to_psnr, psnr, ssim
from stylizednerf.nerf.model import NerfModel, resolve_config
from stylizednerf.nerf.rays import SceneSpace
from stylizednerf.nerf.render import checkpoint_payload, render_cameras, render_rays_chunked
from stylizednerf.pinhole import camera_rays
from stylizednerf.progress import progress_bar
from stylizednerf.settings import NerfSettings
from stylizednerf.device import resolve_device
from stylizednerf.fileio import check_writable

CHECKPOINT_KIND = "pretrain-nerf/2"  # bump when the saved state changes shape


def load_image(path: Path, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1]; ValueError naming the file if unreadable or of the wrong size."""
    from stylizednerf.images import read_rgb_float

    array = read_rgb_float(path)  # ImageReadError is a ValueError
    if array.shape[:2] != (height, width):
        raise ValueError(f"{path}: image is {array.shape[1]}x{array.shape[0]}, cameras.json says {width}x{height}")
    return array


def split_views(count: int, holdout_every: int) -> tuple[list[int], list[int]]:
    """LLFF convention: views 0, k, 2k, ... are test views; holdout_every = 0 trains on all."""
    if holdout_every <= 0:
        return list(range(count)), []
    test = list(range(0, count, holdout_every))
    return [i for i in range(count) if i not in test], test


class Trainer:
    """Data, model, optimiser and training step of one NeRF; resumable through ``checkpoint_dir``."""

    def __init__(self, camera_set: CameraSet, settings: dict | None = None, checkpoint_dir=None, log=print):
        self.cfg = resolve_config(settings)
        self.fcfg = self.cfg[self.cfg["field"]]
        self.seed = int(self.cfg.get("seed", 0))
        self.device = resolve_device(self.cfg.get("device"))
        self.cuda = self.device.type == "cuda"
        self.log = log
        self.camera_set = camera_set
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)

        self.space = SceneSpace.from_cameras(camera_set)
        self.model = NerfModel(self.space, self.cfg).to(self.device)
        self.train_views, self.test_views = split_views(len(camera_set), int(self.cfg["holdout_every"]))
        if not self.train_views:
            raise ValueError("no training views left after the hold-out")
        self._load_data()

        self.iterations = int(self.fcfg["iterations"])
        self.decay_steps = float(self.fcfg["lr_decay_steps"] or self.iterations)
        self.batch = int(self.fcfg["batch_rays"])
        self.use_graph = bool(self.cfg["cuda_graph"]) and self.cuda
        self.use_compile = bool(self.cfg["compile"]) and self.cuda
        self.optimizer = self._make_optimizer()
        self.step = 0
        self.elapsed = 0.0  # training seconds over all runs (evaluation excluded)
        self.history: list[dict] = []
        self.best_val = -math.inf
        self.best_step = 0
        self.best_state: dict | None = None
        self.mse_sum = torch.zeros((), device=self.device)
        self.mse_count = 0
        self.graph = None
        self._step_fn = None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint = Checkpoint(self.checkpoint_dir / "last.pt" if self.checkpoint_dir else None,
                                     self.fingerprint() if self.checkpoint_dir else {}, log=log)
        self.initial_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._try_resume()

    # ---- data ------------------------------------------------------------------------------

    def _load_data(self) -> None:
        cams = self.camera_set.cameras
        paths = self.camera_set.image_paths()
        origins, dirs, colors = [], [], []
        for i in self.train_views:
            o, d = camera_rays(cams[i])
            origins.append(o.reshape(-1, 3))
            dirs.append(d.reshape(-1, 3))
            colors.append(torch.from_numpy(load_image(paths[i], cams[i].width, cams[i].height)).reshape(-1, 3))
        self.ray_o = torch.cat(origins).to(self.device)
        self.ray_d = torch.cat(dirs).to(self.device)
        self.ray_rgb = torch.cat(colors).to(self.device)
        self.test_images = [torch.from_numpy(load_image(paths[i], cams[i].width, cams[i].height))
                            for i in self.test_views]
        # validation: a fixed random subset of training pixels, never trained on
        n = self.ray_o.shape[0]
        n_val = min(int(self.cfg["val_rays"]), n // 10)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + 1))
        self.val_index = perm[:n_val].to(self.device)
        self.train_index = perm[n_val:].to(self.device)

    # ---- optimisation ----------------------------------------------------------------------

    def _make_optimizer(self) -> torch.optim.Optimizer:
        lr = float(self.fcfg["lr"])
        fast = self.cfg["field"] == "fast"
        kwargs = {"betas": (0.9, 0.99), "eps": 1e-15} if fast else {"betas": (0.9, 0.999), "eps": 1e-7}
        wd = float(self.fcfg.get("weight_decay", 0.0) or 0.0)
        if fast and wd > 0:
            # Instant-NGP: L2 on the tiny MLPs only; with Adam's eps ~ 0 a consistent but vanishing
            # gradient otherwise moves weights by ~lr every step without bound
            table = [p for n, p in self.model.named_parameters() if n.endswith("encoding.table")]
            rest = [p for n, p in self.model.named_parameters() if not n.endswith("encoding.table")]
            params = [{"params": table, "weight_decay": 0.0}, {"params": rest, "weight_decay": wd}]
        else:
            params = list(self.model.parameters())
        if self.use_graph:
            try:  # a tensor lr can be changed in place between graph replays
                return torch.optim.Adam(params, lr=torch.tensor(lr, device=self.device), capturable=True,
                                        foreach=True, **kwargs)
            except (TypeError, ValueError, RuntimeError) as error:
                self.log(f"note: capturable Adam unavailable ({error}); CUDA graph off")
                self.use_graph = False
        if self.cuda:
            try:
                return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)
            except (TypeError, ValueError, RuntimeError):
                pass
        return torch.optim.Adam(params, lr=lr, **kwargs)

    def learning_rate(self, step: int) -> float:
        return float(self.fcfg["lr"]) * 0.1 ** (step / self.decay_steps)

    def _set_lr(self, step: int) -> None:
        lr = self.learning_rate(step)
        for group in self.optimizer.param_groups:
            if torch.is_tensor(group["lr"]):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr

    def _loss(self):
        sel = torch.randint(0, self.train_index.shape[0], (self.batch,), device=self.device)
        idx = self.train_index[sel]
        target = self.ray_rgb[idx]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
            # a random background colour per ray: the captures are opaque, so only full opacity
            # fits every background (a fixed black one lets dark surfaces stay half transparent)
            bg = torch.rand(self.batch, 3, device=self.device) if self.fcfg.get("random_background") else None
            out = self.model.render_rays(self.ray_o[idx], self.ray_d[idx], training=True, background=bg)
        mse = torch.mean((out["rgb"].float() - target) ** 2)
        total = mse
        if "distortion" in out:
            total = total + float(self.fcfg["distortion_weight"]) * out["distortion"]
        if "coarse_rgb" in out:
            total = total + torch.mean((out["coarse_rgb"].float() - target) ** 2)
        return total, mse.detach()

    def _eager_step(self, loss_fn) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self._update(loss_fn)

    def _update(self, loss_fn) -> None:
        """The step after zeroing the gradients: what the CUDA graph records."""
        total, mse = loss_fn()
        total.backward()
        self.optimizer.step()
        self.mse_sum.add_(mse)

    def _build_step(self):
        """The step function: eager, compiled, and/or one CUDA graph; each falls back to the simpler one."""
        loss_fn = self._loss
        if self.use_compile:
            try:
                compiled = torch.compile(self._loss)
                self._eager_step(compiled)  # compiles now, so a failure shows here
                loss_fn = compiled
                self.log("torch.compile: on")
            except Exception as error:  # noqa: BLE001  any compiler failure -> eager
                self.log(f"note: torch.compile failed ({type(error).__name__}: {error}); eager mode")
                self.use_compile = False
        if self.use_graph:
            try:
                graph, _ = capture_step(lambda: self._update(loss_fn), warmup_step=lambda: self._eager_step(loss_fn),
                                        before_capture=lambda: self.optimizer.zero_grad(set_to_none=True))
                self.graph = graph
                self.log("CUDA graph: captured")
                return graph.replay
            except Exception as error:  # noqa: BLE001
                self.log(f"note: CUDA graph capture failed ({type(error).__name__}: {error}); no graph")
                self.use_graph = False
                self.graph = None
                torch.cuda.synchronize()
        return lambda: self._eager_step(loss_fn)

    def run_steps(self, count: int) -> None:
        """``count`` optimisation steps, without any host synchronisation."""
        if self._step_fn is None:
            self.model.train()
            self._step_fn = self._build_step()
        every = int(self.fcfg.get("grid_update_every", 0) or 0)
        for _ in range(count):
            if every and self.step > 0 and self.step % every == 0:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
                    self.model.update_grid()
            self._set_lr(self.step)
            self._step_fn()
            self.step += 1
            self.mse_count += 1

    def prepare(self) -> float:
        """Build (compile / capture) the step now, then restore the initial state; returns seconds spent.

        Used by the benchmark so that compilation is not counted as training time and the clock
        starts from an untrained model.
        """
        start = time.perf_counter()
        self.run_steps(1)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
            self.model.update_grid()  # compiles the grid update too (nerf/compiled.py)
        self.reset()
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    @torch.no_grad()
    def reset(self) -> None:
        """Initial weights, zero optimiser state, step 0, in place (captured graphs stay valid)."""
        for key, value in self.model.state_dict().items():
            value.copy_(self.initial_state[key])
        for state in self.optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()
        self.step, self.elapsed, self.mse_count = 0, 0.0, 0
        self.mse_sum.zero_()
        self.history.clear()
        self.best_val, self.best_step, self.best_state = -math.inf, 0, None

    def train_psnr(self) -> float | None:
        """PSNR of the training batches since the last call (synchronises)."""
        if self.mse_count == 0:
            return None
        value = mse_to_psnr(self.mse_sum.item() / self.mse_count)
        self.mse_sum.zero_()
        self.mse_count = 0
        return value

    # ---- evaluation ------------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> float:
        out = render_rays_chunked(self.model.eval(), self.ray_o[self.val_index], self.ray_d[self.val_index],
                                  int(self.cfg["render_chunk"]))
        self.model.train()
        return mse_to_psnr(torch.mean((out["rgb"] - self.ray_rgb[self.val_index].cpu()) ** 2).item())

    def record_validation(self) -> float:
        value = self.validate()
        if value > self.best_val:
            self.best_val, self.best_step = value, self.step
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return value

    @torch.no_grad()
    def evaluate_test(self, with_ssim: bool = True) -> dict:
        """Render the test views with the current weights; PSNR/SSIM per view and mean."""
        if not self.test_views:
            return {"views": [], "psnr": None, "ssim": None, "renders": []}
        cams = [self.camera_set.cameras[i] for i in self.test_views]
        renders = render_cameras(self.model, cams, chunk=int(self.cfg["render_chunk"]))
        per_view = []
        for i, render, target in zip(self.test_views, renders, self.test_images):
            entry = {"view": i, "file": self.camera_set.cameras[i].file, "psnr": psnr(render["rgb"], target)}
            if with_ssim:
                entry["ssim"] = ssim(render["rgb"], target)
            per_view.append(entry)
        self.model.train()
        return {"views": per_view, "psnr": float(np.mean([v["psnr"] for v in per_view])),
                "ssim": float(np.mean([v["ssim"] for v in per_view])) if with_ssim else None,
                "renders": renders}

    # ---- checkpoints -----------------------------------------------------------------------

    def fingerprint(self) -> dict:
        """The result settings (the unused field's section left out) and the inputs' contents:
        camera parameters in order and the images' bytes."""
        from stylizednerf.checkpoint import fingerprint, hash_files, hash_value

        unused = "mlp" if self.cfg["field"] == "fast" else "fast"
        settings = {k: v for k, v in self.cfg.items() if k != unused}
        cams = self.camera_set
        cameras = {"scene_kind": cams.scene_kind,
                   "frames": [{k: v for k, v in c.__dict__.items() if k != "file"} for c in cams.cameras]}
        return fingerprint(CHECKPOINT_KIND, settings,
                           {"cameras": hash_value(cameras), "images": hash_files(cams.image_paths())})

    def save_checkpoint(self) -> None:
        self.checkpoint.save({
            "step": self.step, "elapsed": self.elapsed, "history": self.history, "best_val": self.best_val,
            "best_step": self.best_step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "best_state": self.best_state, "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state() if self.cuda else None,
        })

    def _try_resume(self) -> None:
        payload = self.checkpoint.load(map_location=self.device)
        if payload is None:
            return
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.step, self.elapsed = int(payload["step"]), float(payload["elapsed"])
        self.history = list(payload["history"])
        self.best_val, self.best_step = float(payload["best_val"]), int(payload["best_step"])
        self.best_state = payload["best_state"]
        torch.set_rng_state(payload["rng_cpu"].cpu())
        if self.cuda and payload.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(payload["rng_cuda"].cpu())
        self.log(f"resumed at step {self.step}")

    # ---- the full loop ---------------------------------------------------------------------

    def train(self, progress: bool = True) -> None:
        log_every = max(1, int(self.cfg["log_every"]))
        val_every = max(1, int(self.cfg["val_every"]))
        ckpt_every = int(self.cfg["checkpoint_every"])
        bar = progress_bar(total=self.iterations, initial=self.step, desc=f"nerf[{self.cfg['field']}]", unit="step",
                           disable=not progress)
        while self.step < self.iterations:
            start = time.perf_counter()
            boundary = min(self.iterations, (self.step // log_every + 1) * log_every)
            steps = boundary - self.step
            self.run_steps(steps)
            if self.cuda:
                torch.cuda.synchronize()
            self.elapsed += time.perf_counter() - start
            bar.update(steps)
            entry = {"step": self.step, "seconds": round(self.elapsed, 3), "lr": self.learning_rate(self.step),
                     "train_psnr": self.train_psnr()}
            if self.step % val_every == 0 or self.step == self.iterations:
                entry["val_psnr"] = self.record_validation()
            self.history.append(entry)
            bar.set_postfix(psnr=f"{entry['train_psnr']:.2f}",
                            val=f"{self.best_val:.2f}" if self.best_val > -math.inf else "-")
            if self.checkpoint.enabled and ckpt_every > 0 and (
                    self.step % ckpt_every == 0 or self.step == self.iterations):
                self.save_checkpoint()
        bar.close()
        if self.best_state is None:
            self.record_validation()

    def load_best(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


# ---- outputs ---------------------------------------------------------------------------------


def depth_to_color(depth: torch.Tensor) -> np.ndarray:
    """uint8 RGB of inverse depth (turbo colour map, 2-98 percentile range)."""
    from matplotlib import colormaps

    inv = 1.0 / depth.clamp_min(1e-6).numpy()
    lo, hi = np.percentile(inv, [2, 98])
    norm = np.clip((inv - lo) / max(hi - lo, 1e-9), 0, 1)
    return (colormaps["turbo"](norm)[..., :3] * 255).astype(np.uint8)


def plot_curve(path: Path, history: list[dict], test_psnr: float | None, best_step: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [h["step"] for h in history if h.get("train_psnr") is not None]
    ax.plot(steps, [h["train_psnr"] for h in history if h.get("train_psnr") is not None], label="train batches")
    val = [h for h in history if "val_psnr" in h]
    ax.plot([h["step"] for h in val], [h["val_psnr"] for h in val], "o-", label="validation pixels")
    if test_psnr is not None:
        ax.axhline(test_psnr, color="k", ls="--", label=f"test views (best step {best_step}): {test_psnr:.2f} dB")
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(trainer: Trainer, out_dir: Path, cameras_path: Path) -> dict:
    from stylizednerf.fileio import atomic_dir, atomic_save_image, atomic_save_torch, atomic_write_json
    from stylizednerf.provenance import metadata

    trainer.load_best()
    test = trainer.evaluate_test()
    renders = test.pop("renders")
    pairs = [(r["rgb"], img) for r, img in zip(renders, trainer.test_images)]
    lpips_value = lpips_or_none(pairs) if pairs else None
    meta = metadata("pretrain-nerf", trainer.cfg, trainer.seed, cameras=str(cameras_path))
    metrics = {
        "field": trainer.cfg["field"], "steps": trainer.step, "train_seconds": round(trainer.elapsed, 2),
        "rays_per_second": round(trainer.step * trainer.batch / max(trainer.elapsed, 1e-9), 1),
        "best_step": trainer.best_step, "val_psnr_best": trainer.best_val,
        "holdout_every": trainer.cfg["holdout_every"], "train_views": trainer.train_views,
        "test": {"psnr": test["psnr"], "ssim": test["ssim"], "lpips": lpips_value, "views": test["views"]},
        "device": str(trainer.device), "metadata": meta,
    }
    if lpips_value is None and pairs:
        metrics["test"]["lpips_note"] = "LPIPS not computed: stylizednerf.metrics.lpips is not available"
    with atomic_dir(out_dir) as tmp:
        atomic_save_torch(tmp / "model.pt", checkpoint_payload(
            trainer.model, step=trainer.best_step, val_psnr=trainer.best_val, metadata=meta))
        for i, render, target in zip(trainer.test_views, renders, trainer.test_images):
            stem = Path(trainer.camera_set.cameras[i].file).stem
            atomic_save_image(tmp / "test" / f"{stem}_rgb.png", to_uint8(render["rgb"]))
            atomic_save_image(tmp / "test" / f"{stem}_gt.png", to_uint8(target))
            atomic_save_image(tmp / "test" / f"{stem}_depth.png", depth_to_color(render["depth"]))
        atomic_write_json(tmp / "metrics.json", metrics)
        atomic_write_json(tmp / "log.json", {"history": trainer.history})
        plot_curve(tmp / "curve.png", trainer.history, test["psnr"], trainer.best_step,
                   f"NeRF ({trainer.cfg['field']}) on {cameras_path.parent.parent.name}")
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylizednerf pretrain-nerf", description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", required=True, help="cameras.json of the scene")
    parser.add_argument("--out", required=True, help="output folder (e.g. results/{scene}/nerf)")
    parser.add_argument("--settings", default="{}", help="JSON: the nerf config section + seed + device")
    parser.add_argument("--runtime", default="{}",
                        help="JSON: runtime settings (not changing the result; the workflow does not track them)")
    parser.add_argument("--checkpoint-dir", default=None, help="default: the output folder's sibling <out>_ckpt")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    cameras_path = Path(args.cameras)
    out = Path(args.out)
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else out.parent / f"{out.name}_ckpt"
    settings = NerfSettings.parse(args.settings, args.runtime).to_dict()
    check_writable(out.parent)  # before training, not after it
    check_writable(ckpt)
    try:
        camera_set = read_cameras(cameras_path)
    except FileNotFoundError:
        raise SystemExit(f"error: {cameras_path}: file not found") from None
    except (ValueError, KeyError) as error:
        raise SystemExit(f"error: {cameras_path}: {error}") from None
    try:
        trainer = Trainer(camera_set, settings, checkpoint_dir=ckpt, log=lambda m: print(m, file=sys.stderr))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"pretrain-nerf: {len(trainer.train_views)} train / {len(trainer.test_views)} test views, "
          f"{trainer.ray_o.shape[0]} training rays, field={trainer.cfg['field']}, device={trainer.device}",
          file=sys.stderr)
    trainer.train(progress=not args.no_progress)
    metrics = write_outputs(trainer, out, cameras_path)
    trainer.checkpoint.remove()  # the outputs are complete: a rerun starts afresh
    test = metrics["test"]
    print(f"pretrain-nerf: {trainer.step} steps in {trainer.elapsed:.1f} s, best val {trainer.best_val:.2f} dB "
          f"at step {trainer.best_step}, test PSNR {test['psnr']} SSIM {test['ssim']}", file=sys.stderr)
    return 0
