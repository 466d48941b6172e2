"""Debian packages that some tests need (Chromium, rsync, SLURM): installed with apt-get when the
tests run as root on a machine without them (a fresh CI machine)."""

import os
import shutil
import subprocess


def apt_install(*packages: str, timeout: int = 600) -> str:
    """apt-get install ``packages`` as root; '' when done, else why it could not be done."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root, or no apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]):
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stdout[-500:]}"
    return ""
