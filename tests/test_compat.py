"""torchvision (and therefore lpips) import and build models on the CPU-only torch."""

import subprocess
import sys


def test_lpips_and_torchvision_vgg19_import_in_a_fresh_interpreter():
    # A fresh interpreter, because the shim must run before torchvision is first imported.
    code = (
        "import stylizednerf, torch, torchvision, lpips\n"
        "net = torchvision.models.vgg19(weights=None)\n"
        "out = net.features(torch.zeros(1, 3, 32, 32))\n"
        "assert out.shape == (1, 512, 1, 1), out.shape\n"
        "assert torch.ops.torchvision.nms is not None\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_shim_is_idempotent():
    from stylizednerf._compat import ensure_torchvision_ops

    assert ensure_torchvision_ops() is False  # already done at import time: nothing more to do
