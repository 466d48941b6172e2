"""``python -m stylizednerf <stage> [options]``: one entry point per pipeline stage.

Each Snakemake rule calls exactly one of these, so every stage also runs by hand.
``python -m stylizednerf <stage> --help`` lists a stage's options.
"""

import importlib
import os
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


# Stages whose CUDA memory is better served by expandable allocator segments: a stylize job that
# interleaves decoder fine-tuning with the style module's graphs reserved 51.3 GB for 23.7 GB
# allocated with fixed segments (H200, fern, BENCHMARKS.md issue 18, ninth session), over its
# 50000 MB declaration; with expandable segments the same kind of job reserved 33.0 GB (fifth
# session), ARF 16.8 GB against 31.5. Only stages measured with it: the NeRF's compiled CUDA graphs
# were not.
EXPANDABLE_SEGMENT_STAGES = {"stylize", "arf"}


def allocator_settings(stage: str, environ) -> dict:
    """Environment entries to add before ``stage`` touches CUDA: expandable segments for
    :data:`EXPANDABLE_SEGMENT_STAGES`, unless the user set ``PYTORCH_CUDA_ALLOC_CONF``."""
    if stage in EXPANDABLE_SEGMENT_STAGES and "PYTORCH_CUDA_ALLOC_CONF" not in environ:
        return {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    return {}


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
    # read when CUDA's allocator starts, i.e. at the stage's first CUDA tensor, not at import
    os.environ.update(allocator_settings(argv[0], os.environ))
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
