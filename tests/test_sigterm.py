"""A stage killed with SIGTERM (scancel, SLURM time limit) leaves no temporary files behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import signal, sys, time
from pathlib import Path
from stylizednerf.__main__ import exit_on_sigterm
from stylizednerf.fileio import atomic_dir, atomic_path
signal.signal(signal.SIGTERM, exit_on_sigterm)
out = Path(sys.argv[1])
with atomic_dir(out / "folder") as tmp_dir, atomic_path(out / "file.json") as tmp_file:
    (tmp_dir / "part.png").write_bytes(b"half")
    tmp_file.write_text("{")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigterm_during_atomic_writes_removes_temporaries(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(list(tmp_path.iterdir())) == 2  # the two temporaries exist while writing
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(tmp_path.iterdir()) == []  # no output, no temporary
