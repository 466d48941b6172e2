"""The one CUDA-graph capture (stylizednerf/cuda_graph.py), used by the NeRF and stylize trainers."""

import pytest
import torch

from stylizednerf.cuda_graph import capture_step


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need CUDA")
def test_capture_warms_up_then_records_one_step():
    x = torch.zeros(4, device="cuda")
    calls = {"warmup": 0, "before": 0}

    def warm():
        calls["warmup"] += 1
        x.add_(10.0)

    graph, result = capture_step(lambda: x.add_(1.0) * 2, warmup_step=warm,
                                 before_capture=lambda: calls.__setitem__("before", calls["before"] + 1))
    torch.cuda.synchronize()
    assert calls == {"warmup": 3, "before": 1}
    assert x.tolist() == [30.0] * 4  # recording runs nothing
    graph.replay()
    graph.replay()
    torch.cuda.synchronize()
    assert x.tolist() == [32.0] * 4 and result.tolist() == [64.0] * 4  # the output lives in the graph


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_capture_without_cuda_raises_so_callers_fall_back():
    with pytest.raises(Exception):  # noqa: B017  any error: the trainers catch it and run eager steps
        capture_step(lambda: None)
