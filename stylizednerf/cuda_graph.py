"""CUDA-graph capture of one training step, shared by the NeRF and the stylized-NeRF trainers.

A step of a few hundred small kernels is launched by the host slower than the GPU runs it;
recorded once as a CUDA graph it is replayed with one launch. Capture follows the recipe of
``torch.cuda.graphs``: warm-up calls on a side stream (so lazy initialisation, cuBLAS
workspaces and optimiser state exist before recording), then one recorded call.
"""

import torch


def capture_step(step, warmup_step=None, warmup: int = 3, before_capture=None):
    """Record one call of ``step`` as a CUDA graph; return ``(graph, what that call returned)``.

    ``warmup_step`` (default ``step``) runs ``warmup`` times on a side stream first; those calls
    change the model and optimiser like real steps, so a caller that must not advance saves and
    restores its state around the capture. ``before_capture`` runs just before recording (e.g.
    ``optimizer.zero_grad(set_to_none=True)`` so the gradients live in the graph's pool).
    Raises whatever capture raises: the caller falls back to eager steps.
    """
    warmup_step = warmup_step or step
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            warmup_step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    if before_capture is not None:
        before_capture()
    with torch.cuda.graph(graph):
        result = step()
    return graph, result
