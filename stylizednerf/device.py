"""The torch device a stage runs on, from the config's ``device: auto|cpu|cuda``."""

import atexit
import sys

import torch

_reported = set()


def resolve_device(name: str | None = "auto") -> torch.device:
    """auto = CUDA when available, else CPU; asking for CUDA without it is a one-line error.

    With several GPUs visible and the workflow's claim folder set, CUDA means one GPU claimed for
    this job by its declared memory (:mod:`stylizednerf.gpu_assign`), made the current device;
    otherwise the default CUDA device, as with one GPU."""
    name = name or "auto"
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: device: 'cuda' requested but CUDA is not available")
    if name == "cuda":
        from stylizednerf.gpu_assign import job_gpu

        gpu = job_gpu()
        if gpu is not None:
            torch.cuda.set_device(gpu)  # kernels, graphs and bare "cuda" tensors follow it
        device = torch.device("cuda", gpu if gpu is not None else torch.cuda.current_device())
        if device.index not in _reported:  # the job's log ends with its peak (benchmark-table reads it)
            _reported.add(device.index)
            atexit.register(report_peak_memory, device)
        return torch.device("cuda", gpu) if gpu is not None else torch.device("cuda")
    return torch.device(name)


def report_peak_memory(device: torch.device) -> None:
    """One line on stderr: the peak GPU memory of this process on ``device`` and what the job declared."""
    from stylizednerf.benchmarks import gpu_peak_line
    from stylizednerf.gpu_assign import declared_gpu_mem_mb

    try:
        line = gpu_peak_line(torch.cuda.max_memory_allocated(device), torch.cuda.max_memory_reserved(device),
                             str(device), declared_gpu_mem_mb())
    except Exception:  # noqa: BLE001 - a broken CUDA context at exit: nothing to report
        return
    print(line, file=sys.stderr, flush=True)
