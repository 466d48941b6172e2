"""Stage entry point; see :mod:`stylizednerf.stylize.joint_cli`."""

from stylizednerf.stylize.joint_cli import main_stylize_joint as main

__all__ = ["main"]
