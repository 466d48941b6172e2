"""A throw-away single-node SLURM cluster on localhost, for tests and for trying the profile.

Everything (munge key and socket, slurm.conf, state, spool, logs, PID files) lives in one folder;
clients find it through the SLURM_CONF environment variable, and the machine's /etc/slurm is never
written. Daemons are stopped by the PIDs in their PID files, never by name.

One workaround: snakemake-executor-plugin-slurm-jobstep removes every SLURM_* variable but a
few, SLURM_CONF included, before it calls `srun` inside a job, so srun looks where a real compute
node has its configuration (/etc/slurm/slurm.conf or configless slurmd's /run/slurm/conf). Instead
of writing there, the cluster's environment puts a tiny `srun` wrapper first in PATH that sets
SLURM_CONF again (see `environment()`); several test clusters can thus run side by side.

    python tests/slurm_localhost.py start /tmp/cluster   # prints the `export SLURM_CONF=...` line
    python tests/slurm_localhost.py stop /tmp/cluster

Needs root (slurmd runs jobs as the submitting user) and Debian's slurm-wlm + munge packages:
`install_packages()` apt-installs them when missing.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from system_packages import apt_install

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("slurmd", "slurmctld", "munged")  # stop order: the reverse of start order
PARTITION = "debug"
NODE = "localhost"


def missing_programs() -> list[str]:
    wanted = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
    return [name for name in wanted if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def install_packages(timeout: int = 600) -> str:
    """apt-get install slurm-wlm and munge when a program is missing; return what was done."""
    if not missing_programs():
        return "already installed"
    if os.geteuid() != 0:
        raise RuntimeError("slurm-wlm/munge are missing and installing them needs root")
    why = apt_install(*PACKAGES, timeout=timeout)
    if why:
        raise RuntimeError(why)
    still = missing_programs()
    if still:
        raise RuntimeError(f"installed {PACKAGES} but still missing: {still}")
    return "installed " + " ".join(PACKAGES)


def _sbin(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def node_resources() -> tuple[int, int]:
    """(CPUs, RealMemory MB) the node advertises: all CPUs, 90% of the memory."""
    return os.cpu_count() or 1, int(_memory_mb() * 0.9)


def write_config(root: Path) -> Path:
    """Write slurm.conf for one node (this machine) into ``root``; return its path."""
    cpus, memory_mb = node_resources()
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "root")
    for sub in ("state", "spool", "munge"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    text = f"""\
# Single-node test cluster written by tests/slurm_localhost.py
ClusterName=stylizednerf-test
SlurmctldHost={NODE}(127.0.0.1)
SlurmUser={user}
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
# Finished jobs stay visible to `squeue --states=all` this long: the profile's status command.
MinJobAge=600
# Fast scheduling for tests.
SchedulerParameters=defer_batch=0,sched_interval=2
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""
    conf = root / "slurm.conf"
    conf.write_text(text)
    return conf


def environment(root: Path) -> dict:
    """os.environ plus SLURM_CONF pointing at this cluster and the srun wrapper first in PATH."""
    root = Path(root).resolve()
    conf = root / "slurm.conf"
    wrapper = root / "bin" / "srun"
    real_srun = shutil.which("srun", path=os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p or ".").resolve() != wrapper.parent))
    if not wrapper.exists() and real_srun:
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text("#!/bin/sh\n# The slurm-jobstep plugin drops SLURM_CONF before srun: set it again.\n"
                           f"SLURM_CONF='{conf}' exec '{real_srun}' \"$@\"\n")
        wrapper.chmod(0o755)
    path = str(wrapper.parent) + os.pathsep + os.environ.get("PATH", "")
    return dict(os.environ, SLURM_CONF=str(conf), PATH=path)


def _run(cmd, root: Path, timeout: int = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=environment(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _logs(root: Path) -> str:
    parts = []
    for name in ("munged.log", "slurmctld.log", "slurmd.log"):
        path = root / name
        if path.exists():
            parts.append(f"--- {name} (tail)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]))
    return "\n".join(parts)


def _wait_for(predicate, timeout: float, what: str, root: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{_logs(root)}")


def node_state(root: Path) -> str:
    done = _run(["sinfo", "--noheader", "--Node", "--format=%T", "--nodes", NODE], root)
    return done.stdout.strip() if done.returncode == 0 else ""


def start(root) -> dict:
    """Start munged, slurmctld and slurmd using ``root``; wait until the node is idle.

    Returns the environment (with SLURM_CONF) for clients. Stops whatever it started on failure.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    conf = write_config(root)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    (root / "munge").chmod(0o700)
    env = environment(root)
    try:
        # --force: the socket folder is a temp dir, not munge's usual /run/munge.
        _launch([_sbin("munged"), "--force", f"--key-file={key}", f"--socket={root}/munge/munge.socket",
                 f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                 f"--seed-file={root}/munge/munged.seed"], root, env)
        _wait_for(lambda: (root / "munge" / "munge.socket").exists(), 20, "munged's socket", root)
        # -i: ignore any state from an earlier run in this folder.
        _launch([_sbin("slurmctld"), "-i", "-f", str(conf)], root, env)
        _wait_for(lambda: _run(["scontrol", "ping"], root).stdout.count("UP") > 0, 30, "slurmctld", root)
        _launch([_sbin("slurmd"), "-N", NODE, "-f", str(conf)], root, env)
        _wait_for(lambda: node_state(root).startswith("idle"), 60, f"node {NODE} to be idle", root)
    except Exception:
        stop(root)
        raise
    return env


def _launch(cmd, root: Path, env: dict) -> None:
    """Run a daemon that forks into the background and writes its PID file."""
    done = subprocess.run(cmd, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}:\n{done.stdout}\n{_logs(root)}")


def stop(root, timeout: float = 20) -> list[str]:
    """Stop the daemons whose PID files are in ``root`` (SIGTERM, then SIGKILL); return what was stopped."""
    root = Path(root)
    stopped = []
    for name in DAEMONS:
        pid_file = root / f"{name}.pid"
        pid = _read_pid(pid_file)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pid_file.unlink(missing_ok=True)
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        stopped.append(f"{name}[{pid}]")
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as stopped.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: python tests/slurm_localhost.py start|stop FOLDER")
    folder = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        print(install_packages(), file=sys.stderr)
        start(folder)
        print(f"export SLURM_CONF={folder / 'slurm.conf'}")
    else:
        print("stopped:", " ".join(stop(folder)) or "nothing")
