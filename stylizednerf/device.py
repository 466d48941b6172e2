"""The torch device a stage runs on, from the config's ``device: auto|cpu|cuda``."""

import torch


def resolve_device(name: str | None = "auto") -> torch.device:
    """auto = CUDA when available, else CPU; asking for CUDA without it is a one-line error."""
    name = name or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: device: 'cuda' requested but CUDA is not available")
    return torch.device(name)
