"""Stage entry point; see :mod:`stylizednerf.stylize.cli`."""

from stylizednerf.stylize.cli import main_render_views as main

__all__ = ["main"]
