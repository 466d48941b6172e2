"""One GPU per job, chosen by what the running jobs declared they need.

Snakemake's ``--resources gpu_mem_mb=N`` only *counts*: it starts jobs while the sum of their
declared ``gpu_mem_mb`` stays under N, but it does not say which GPU a job should use, so every
job would land on the default device. Here a stage that runs on CUDA with more than one GPU
visible claims one:

* Each GPU has a folder ``<slots>/gpu<i>/`` (``<slots>`` = ``$STYLIZEDNERF_GPU_SLOTS``; the
  workflow sets ``results/.gpu_slots``). A job's claim is a file there holding its declared MB
  (``$STYLIZEDNERF_GPU_MEM_MB``, which the rule sets from its ``resources.gpu_mem_mb``), kept
  locked with ``flock`` for as long as the job's process lives.
* Choosing happens under one lock (``<slots>/select.lock``): read the live claims of every GPU
  (a claim file whose lock can be taken belongs to a process that is gone, killed or not: it is
  deleted, so a SIGKILLed job frees its GPU), pick the GPU with the most memory left (its total
  memory minus the live claims; ties go to the lowest index) among those where the job fits, and
  write the claim.
* When no GPU has room (Snakemake's sum fits but the memory left is split across GPUs), the job
  waits, polling every few seconds, until a running job ends. It never waits for an idle GPU: a
  job declaring more than any GPU has takes the emptiest one.
* The claim ends with the process (``flock`` locks die with their file descriptors); a normal
  exit also deletes the file.

With one GPU, on CPU, or when ``$STYLIZEDNERF_GPU_SLOTS`` is unset (a stage run by hand), nothing
is claimed and the stage uses the default device, as before. Why lock files rather than a
Snakemake resource per GPU: Snakemake's local executor has no notion of *which* unit of a resource
a job got, and the claims must survive nothing but their process, which ``flock`` gives for free.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SLOTS_ENV = "STYLIZEDNERF_GPU_SLOTS"  # folder of the claims (unset: no claims)
MEM_ENV = "STYLIZEDNERF_GPU_MEM_MB"  # the job's declared GPU memory (the rule's resources.gpu_mem_mb)


def declared_gpu_mem_mb(environ=None) -> int | None:
    """The job's declared GPU memory in MB, or None when it declared none (or 0, or garbage)."""
    value = (os.environ if environ is None else environ).get(MEM_ENV, "").strip()
    try:
        mb = int(float(value))
    except ValueError:
        return None
    return mb if mb > 0 else None


@dataclass
class Claim:
    """A held claim of ``mem_mb`` on GPU ``gpu`` (until :meth:`release` or the process ends)."""

    gpu: int
    mem_mb: int
    path: Path
    _file: object = field(repr=False, default=None)

    def release(self) -> None:
        if self._file is None:
            return
        try:
            self.path.unlink()  # while still locked: a scanner never mistakes a live claim for stale
        except FileNotFoundError:
            pass
        self._file.close()  # drops the flock
        self._file = None


class _Locked:
    """``with _Locked(path):`` an exclusive flock on ``path`` (created if missing), blocking."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.file = open(self.path, "a+")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.file.close()


def live_claims(slots: Path, gpu: int) -> list[int]:
    """The MB of each live claim on ``gpu``; stale claims (their process is gone) are deleted.
    Call it under the select lock."""
    folder = Path(slots) / f"gpu{gpu}"
    found = []
    for path in sorted(folder.glob("*.claim")):
        try:
            f = open(path, "r")
        except FileNotFoundError:
            continue
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held: its job is running
                try:
                    found.append(int(json.loads(f.read() or "{}").get("mem_mb", 0)))
                except ValueError:
                    found.append(0)
                continue
            try:  # we got the lock: nobody holds the claim any more
                path.unlink()
            except FileNotFoundError:
                pass
    return found


def choose(capacities_mb: list[int], used_mb: list[int], busy: list[bool], mem_mb: int) -> int | None:
    """The GPU for a job of ``mem_mb``: the most memory left among those where it fits (lowest
    index on ties); when it fits nowhere, None (wait) unless it would not fit even on an idle GPU
    of the largest size, then the GPU with the most memory left. ``busy``: GPUs with live claims."""
    left = [c - u for c, u in zip(capacities_mb, used_mb)]
    fits = [i for i, room in enumerate(left) if room >= mem_mb]
    if fits:
        return max(fits, key=lambda i: (left[i], -i))
    if mem_mb > max(capacities_mb) or not any(busy):
        return max(range(len(left)), key=lambda i: (left[i], -i))
    return None


def claim_gpu(slots, capacities_mb: list[int], mem_mb: int, poll_s: float = 2.0, log=None) -> Claim:
    """Claim a GPU for this process (see the module docstring); waits while none has room."""
    slots = Path(slots)
    for i in range(len(capacities_mb)):
        (slots / f"gpu{i}").mkdir(parents=True, exist_ok=True)
    mem_mb = max(int(mem_mb or 0), 0)
    waited = False
    while True:
        with _Locked(slots / "select.lock"):
            claims = [live_claims(slots, i) for i in range(len(capacities_mb))]
            used = [sum(c) for c in claims]
            gpu = choose(capacities_mb, used, [bool(c) for c in claims], mem_mb)
            if gpu is not None:
                path = slots / f"gpu{gpu}" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.claim"
                f = open(path, "w")
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new file: nobody else holds it
                f.write(json.dumps({"mem_mb": mem_mb, "pid": os.getpid(), "since": time.time()}))
                f.flush()
                if log:
                    log(f"gpu: cuda:{gpu} for this job ({mem_mb} MB declared; "
                        f"{capacities_mb[gpu] - used[gpu]} of {capacities_mb[gpu]} MB unclaimed there)")
                return Claim(gpu, mem_mb, path, f)
        if log and not waited:
            log(f"gpu: waiting for {mem_mb} MB on one GPU (unclaimed: "
                f"{', '.join(f'cuda:{i} {c - u} MB' for i, (c, u) in enumerate(zip(capacities_mb, used)))})")
        waited = True
        time.sleep(poll_s)


_job_claim: Claim | None = None
_job_lock = threading.Lock()


def job_gpu(log=print) -> int | None:
    """This job's GPU index (claimed once per process), or None: one GPU or none visible, or no
    ``$STYLIZEDNERF_GPU_SLOTS`` (then the default device, as before)."""
    global _job_claim
    import torch

    slots = os.environ.get(SLOTS_ENV)
    if not slots or not torch.cuda.is_available() or torch.cuda.device_count() <= 1:
        return None
    with _job_lock:
        if _job_claim is None:
            capacities = [torch.cuda.get_device_properties(i).total_memory // 2 ** 20
                          for i in range(torch.cuda.device_count())]
            _job_claim = claim_gpu(slots, capacities, declared_gpu_mem_mb() or 0, log=log)
            atexit.register(_job_claim.release)
        return _job_claim.gpu
