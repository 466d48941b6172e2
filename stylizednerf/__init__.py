"""stylizednerf: consistent 3D scene stylization (StylizedNeRF, CVPR 2022) as a Snakemake pipeline."""

from stylizednerf._compat import ensure_torchvision_ops

ensure_torchvision_ops()

__version__ = "0.1.0"
