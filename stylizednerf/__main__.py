"""``python -m stylizednerf <stage> [options]``: one entry point per pipeline stage.

Each Snakemake rule calls exactly one of these, so every stage also runs by hand.
``python -m stylizednerf <stage> --help`` lists a stage's options.
"""

import importlib
import signal
import sys

# stage name -> module whose ``main(argv)`` runs it
STAGES = {
    "demo-scene": "stylizednerf.demo.cli",
    "pretrain-decoder": "stylizednerf.stylization2d.train_decoder",
    "train-vae": "stylizednerf.stylization2d.train_vae",
    "stylize-2d": "stylizednerf.stylization2d.stylize",
    "poses": "stylizednerf.poses.cli",
    "prepare-style": "stylizednerf.style_image",
    "render-views": "stylizednerf.stylize.stages.render_views",
    "stylize": "stylizednerf.stylize.stages.stylize",
    "render": "stylizednerf.stylize.stages.render",
    "render-path": "stylizednerf.stylize.stages.render_path",
    "stylize-joint": "stylizednerf.stylize.stages.stylize_joint",
    "render-interpolation": "stylizednerf.stylize.stages.render_interpolation",
    "evaluate": "stylizednerf.metrics.evaluate",
    "report": "stylizednerf.metrics.report",
    "benchmark-table": "stylizednerf.benchmarks",
    "pretrain-nerf": "stylizednerf.nerf.train",
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in STAGES:
        known = "\n  ".join(sorted(STAGES))
        print(f"usage: python -m stylizednerf <stage> [options]\n\nstages:\n  {known}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    module = importlib.import_module(STAGES[argv[0]])
    return module.main(argv[1:]) or 0


def exit_on_sigterm(signum, frame):
    """SIGTERM (scancel, a SLURM time limit, Snakemake stopping) unwinds like an exception.

    Python's default for SIGTERM is to die on the spot; raising instead runs the ``finally``
    blocks of stylizednerf.fileio's atomic writers, so a killed job deletes its temporary
    files rather than leaving them next to its outputs. (SIGKILL cannot be caught.)
    """
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
