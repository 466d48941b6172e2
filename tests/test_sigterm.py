"""A stage killed with SIGTERM (scancel, SLURM time limit) leaves no temporary files behind."""

import os
import signal
import subprocess
import sys
from pathlib import Path

# a stage mid-way through its atomic writes: a folder and a file (names from argv), then a pause
WRITER = """
import signal, sys, time
from pathlib import Path
from stylizednerf.__main__ import exit_on_sigterm
from stylizednerf.fileio import atomic_dir, atomic_path
signal.signal(signal.SIGTERM, exit_on_sigterm)
out, folder, file = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
with atomic_dir(out / folder) as tmp_dir, atomic_path(out / file) as tmp_file:
    (tmp_dir / "part.png").write_bytes(b"half")
    tmp_file.write_text("{")
    print("writing", flush=True)
    time.sleep(60)
"""


def start_writer(out: Path, folder: str, file: str) -> subprocess.Popen:
    """The writer above, in its own process, once its temporaries exist in ``out``."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), folder, file], env=env, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_sigterm_during_atomic_writes_removes_temporaries(tmp_path):
    proc = start_writer(tmp_path, "folder", "file.json")
    try:
        assert len(list(tmp_path.iterdir())) == 2  # the two temporaries exist while writing
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(tmp_path.iterdir()) == []  # no output, no temporary
