"""Stage entry point; see :mod:`stylizednerf.stylize.cli`."""

from stylizednerf.stylize.cli import main_render as main

__all__ = ["main"]
