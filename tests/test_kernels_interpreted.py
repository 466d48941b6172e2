"""The Triton kernels' tests on a CPU: in Triton's interpreter, in a child process.

``TRITON_INTERPRET=1`` must be set before Triton is imported, so the kernel tests run in a fresh
interpreter. On CUDA they run directly (test_hash_kernel.py, test_sample_kernel.py,
test_density_kernel.py) and this test is skipped.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

KERNEL_TESTS = ["tests/test_hash_kernel.py", "tests/test_sample_kernel.py", "tests/test_density_kernel.py",
                "tests/test_style_kernel.py", "tests/test_weights_kernel.py"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the kernel tests run directly")
def test_kernels_in_the_triton_interpreter():
    try:
        import triton  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Triton is missing: the README's setup installs it with the test extras")
        pytest.skip("Triton is not installed")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    env.pop("STYLIZEDNERF_NO_TRITON", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *KERNEL_TESTS],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "skipped" not in done.stdout.splitlines()[-1], done.stdout[-2000:]  # they ran, none skipped
    assert " passed" in done.stdout.splitlines()[-1]
