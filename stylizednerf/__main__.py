"""``python -m stylizednerf <stage> [options]``: one entry point per pipeline stage.

Each Snakemake rule calls exactly one of these, so every stage also runs by hand.
``python -m stylizednerf <stage> --help`` lists a stage's options.
"""

import importlib
import signal
import sys

# stage name -> "module:function" that runs it (function(argv) -> exit status)
STAGES = {
    "demo-scene": "stylizednerf.demo.cli:main",
    "pretrain-decoder": "stylizednerf.stylization2d.train_decoder:main",
    "train-vae": "stylizednerf.stylization2d.train_vae:main",
    "stylize-2d": "stylizednerf.stylization2d.stylize:main",
    "poses": "stylizednerf.poses.cli:main",
    "prepare-style": "stylizednerf.style_image:main",
    "render-views": "stylizednerf.stylize.cli:main_render_views",
    "stylize": "stylizednerf.stylize.cli:main_stylize",
    "render": "stylizednerf.stylize.cli:main_render",
    "render-path": "stylizednerf.stylize.cli:main_render_path",
    "stylize-joint": "stylizednerf.stylize.joint_cli:main_stylize_joint",
    "arf": "stylizednerf.arf.cli:main",
    "render-interpolation": "stylizednerf.stylize.joint_cli:main_render_interpolation",
    "evaluate": "stylizednerf.metrics.evaluate:main",
    "report": "stylizednerf.metrics.report:main",
    "benchmark-table": "stylizednerf.benchmarks:main",
    "pretrain-nerf": "stylizednerf.nerf.train:main",
}


def stage_module(stage: str) -> str:
    """The module that holds ``stage``'s entry point."""
    return STAGES[stage].partition(":")[0]


def stage_main(stage: str):
    """``stage``'s entry point, ``function(argv) -> exit status`` (imported only now: a stage's
    imports are its own)."""
    module, _, function = STAGES[stage].partition(":")
    return getattr(importlib.import_module(module), function)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in STAGES:
        known = "\n  ".join(sorted(STAGES))
        print(f"usage: python -m stylizednerf <stage> [options]\n\nstages:\n  {known}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    from stylizednerf.read_log import install_from_environment

    install_from_environment(argv)  # STYLIZEDNERF_READ_LOG: note the files this stage reads (tests)
    return stage_main(argv[0])(argv[1:]) or 0


def exit_on_sigterm(signum, frame):
    """SIGTERM (scancel, a SLURM time limit, Snakemake stopping) unwinds like an exception.

    Python's default for SIGTERM is to die on the spot; raising instead runs the ``finally``
    blocks of stylizednerf.fileio's atomic writers, so a killed job deletes its temporary
    files rather than leaving them next to its outputs. (SIGKILL cannot be caught.)
    """
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
