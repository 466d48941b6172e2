"""Progress: plain lines in a redirected log (what Snakemake's log files get), a tqdm bar on a terminal."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest
from PIL import Image
from tqdm import tqdm

from stylizednerf import progress
from stylizednerf.paths import PROJECT_ROOT


@pytest.mark.slow
def test_stage_log_redirected_to_a_file_has_plain_progress_lines(tmp_path):
    # a real entry point, run the way a rule runs it: `... > {log} 2>&1`
    rng = np.random.default_rng(0)
    styles = []
    for k in range(2):
        styles.append(tmp_path / f"style{k}.png")
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(styles[-1])
    settings = {"iterations": 200, "batch_size": 8, "crops_per_style": 4, "crop_size": 32, "load_size": 40,
                "log_every": 10, "device": "cpu", "plot_samples": 8}
    log = tmp_path / "train_vae.log"
    with open(log, "wb") as out:
        subprocess.run([sys.executable, "-m", "stylizednerf", "train-vae", "--settings", json.dumps(settings),
                        "--styles", *map(str, styles), "--out", str(tmp_path / "out")],
                       stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, check=True, timeout=300)
    text = log.read_bytes()
    assert b"\r" not in text  # tqdm's redraws would be one long line of \r-separated bars
    lines = [line for line in text.decode().splitlines() if line.startswith("train-vae:")]
    assert len(lines) >= 5, text.decode()
    assert "100% 200/200" in lines[-1]
    assert len(text) < 4000  # a line per tenth of the work, not per step


def test_terminal_keeps_the_tqdm_bar(monkeypatch):
    leader, follower = pty.openpty()  # a real terminal, as a person's shell gives
    # 80 columns: a new pty has 0, and tqdm fits its bar (text and all) into the width
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with os.fdopen(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        bar = progress.progress_bar(range(3), desc="steps")
        assert isinstance(bar, tqdm)
        for _ in bar:
            pass
    chunks = []
    while True:  # the pty hands its buffer over in pieces; EIO once drained with the terminal closed
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    written = b"".join(chunks)
    redraws = written.replace(b"\r\n", b"\n")  # the pty's own newline translation is no redraw
    assert b"\r" in redraws and b"steps: 100%" in redraws


def test_lines_come_every_few_seconds_between_tenths_and_end_with_the_last_postfix(tmp_path, monkeypatch):
    # LINE_SECONDS = 0: every update is "a while since the last line", as in a slow job
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        with progress.progress_bar(total=1000, desc="job", unit="step") as bar:
            for _ in range(3):
                bar.update(1)
            bar.set_postfix(loss="0.5")
    lines = log.read_text().splitlines()
    assert [line.split()[2] for line in lines] == ["1/1000", "2/1000", "3/1000", "3/1000"]
    assert lines[-1].endswith("loss=0.5]")  # the closing line carries the losses set after the last update
