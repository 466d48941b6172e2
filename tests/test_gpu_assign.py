"""One GPU per job (stylizednerf/gpu_assign.py) with simulated GPUs, and the ray cache's size from
the job's declared GPU memory (stylizednerf/stylize/ray_cache.py cache_limit). CPU only."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stylizednerf import gpu_assign as G
from stylizednerf.stylize.ray_cache import cache_limit

ROOT = Path(__file__).resolve().parents[1]
MB = 2 ** 20

# a claimant: claims mem MB on simulated GPUs of the given capacities, prints its GPU and times,
# holds the claim for `hold` seconds, exits (releasing it; or is killed)
CLAIMANT = """
import json, sys, time
from stylizednerf.gpu_assign import claim_gpu
slots, caps, mem, hold = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
claim = claim_gpu(slots, caps, mem, poll_s=0.05)
start = time.time()
print(json.dumps({"gpu": claim.gpu, "mem": mem, "start": start}), flush=True)
time.sleep(hold)
end = time.time()
claim.release()
print(json.dumps({"end": end}), flush=True)
"""


def start_claimant(slots, caps, mem, hold):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CLAIMANT, str(slots), json.dumps(caps), str(mem), str(hold)],
                            stdout=subprocess.PIPE, text=True, env=env)


def finish(proc):
    out, _ = proc.communicate(timeout=120)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert proc.returncode == 0 and len(lines) == 2, out
    return {**lines[0], **lines[1]}


def test_choose_most_room_among_those_that_fit():
    assert G.choose([100, 100], [0, 0], [False, False], 40) == 0  # tie: lowest index
    assert G.choose([100, 100], [40, 0], [True, False], 40) == 1
    assert G.choose([100, 100], [40, 70], [True, True], 40) == 0  # 60 left on 0, 30 on 1
    assert G.choose([100, 200], [0, 150], [False, True], 60) == 0  # 1 has room 50 only
    assert G.choose([100, 100], [80, 80], [True, True], 40) is None  # wait: sum fits (40 <= 40) nowhere
    assert G.choose([100, 100], [10, 80], [True, True], 150) == 0  # larger than any GPU: the emptiest
    assert G.choose([100, 100], [0, 0], [False, False], 0) == 0


def test_declared_memory_from_the_environment():
    assert G.declared_gpu_mem_mb({G.MEM_ENV: "50000"}) == 50000
    assert G.declared_gpu_mem_mb({G.MEM_ENV: "0"}) is None
    assert G.declared_gpu_mem_mb({G.MEM_ENV: ""}) is None
    assert G.declared_gpu_mem_mb({G.MEM_ENV: "lots"}) is None
    assert G.declared_gpu_mem_mb({}) is None


HOLDER = """
import sys
from stylizednerf.gpu_assign import claim_gpu
claim = claim_gpu(sys.argv[1], [int(c) for c in sys.argv[2].split(",")], int(sys.argv[3]), poll_s=0.05)
print(claim.gpu, flush=True)
sys.stdin.readline()  # hold the claim until the test says so
claim.release()
"""


def claims_by_pid(slots, n_gpus):
    """{pid: gpu} of the claim files (the live ones: every holder here is alive)."""
    found = {}
    for gpu in range(n_gpus):
        for path in (Path(slots) / f"gpu{gpu}").glob("*.claim"):
            found[int(path.name.split("-")[0])] = gpu
    return found


def wait_for(predicate, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_parallel_claimants_spread_and_never_overfill(tmp_path):
    """6 jobs of 40 MB at once on 2 simulated GPUs of 100 MB: two per GPU (4 run, 2 wait), never
    more than 100 MB of claims on a GPU; when a job on cuda:1 ends, a waiting one gets cuda:1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "100,100", "40"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(6)]
    try:
        assert wait_for(lambda: len(claims_by_pid(tmp_path, 2)) == 4)
        time.sleep(1.0)  # the other two keep waiting
        holders = claims_by_pid(tmp_path, 2)
        assert len(holders) == 4 and sorted(holders.values()) == [0, 0, 1, 1]
        assert [G.live_claims(tmp_path, i) for i in range(2)] == [[40, 40], [40, 40]]
        waiting = [p for p in procs if p.pid not in holders]
        assert len(waiting) == 2 and all(p.poll() is None for p in waiting)
        leaving = next(p for p in procs if holders.get(p.pid) == 1)
        leaving.stdin.write("\n")
        leaving.stdin.flush()
        assert leaving.wait(timeout=60) == 0 and leaving.stdout.read().strip() == "1"
        assert wait_for(lambda: len(claims_by_pid(tmp_path, 2)) == 4)
        now = claims_by_pid(tmp_path, 2)
        newcomer = [pid for pid in now if pid not in holders]
        assert len(newcomer) == 1 and now[newcomer[0]] == 1  # the only GPU with room
        assert [sorted(G.live_claims(tmp_path, i)) for i in range(2)] == [[40, 40], [40, 40]]
    finally:
        for p in procs:
            if p.poll() is None:
                p.stdin.write("\n")
                p.stdin.flush()
        for p in procs:
            p.wait(timeout=60)
    assert all(p.returncode == 0 for p in procs)
    assert not list(tmp_path.glob("gpu*/*.claim"))  # every claim released


def test_a_killed_job_frees_its_gpu(tmp_path):
    caps = [100]
    holder = start_claimant(tmp_path, caps, 80, 60)
    assert json.loads(holder.stdout.readline())["gpu"] == 0
    assert G.live_claims(tmp_path, 0) == [80]
    waiter = start_claimant(tmp_path, caps, 80, 0.1)
    time.sleep(1.0)
    assert waiter.poll() is None  # 80 + 80 > 100: it waits
    holder.send_signal(signal.SIGKILL)  # no cleanup runs: its claim file stays, unlocked
    holder.wait()
    run = finish(waiter)
    assert run["gpu"] == 0
    assert not list(tmp_path.glob("gpu*/*.claim"))


def test_threads_claim_separately_and_release(tmp_path):
    caps = [100, 100, 100]
    claims = []
    lock = threading.Lock()

    def claimant():
        claim = G.claim_gpu(tmp_path, caps, 60, poll_s=0.05)
        with lock:
            claims.append(claim)

    threads = [threading.Thread(target=claimant) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(c.gpu for c in claims) == [0, 1, 2]  # 60 + 60 > 100: one per GPU
    assert [G.live_claims(tmp_path, i) for i in range(3)] == [[60], [60], [60]]
    claims[0].release()
    claims[0].release()  # twice is harmless
    assert sum(len(G.live_claims(tmp_path, i)) for i in range(3)) == 2
    for c in claims[1:]:
        c.release()
    assert not list(tmp_path.glob("gpu*/*.claim"))


def test_job_gpu_claims_once_with_several_gpus_and_never_with_one(tmp_path, monkeypatch):
    import torch

    class Props:
        total_memory = 1000 * MB

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Props())
    monkeypatch.setattr(G, "_job_claim", None)
    monkeypatch.setenv(G.SLOTS_ENV, str(tmp_path))
    monkeypatch.setenv(G.MEM_ENV, "600")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert G.job_gpu(log=None) is None  # one GPU: the default device, no claim
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    holder = G.claim_gpu(tmp_path, [1000, 1000], 600)  # another job on cuda:0
    try:
        assert G.job_gpu(log=None) == 1
        assert G.job_gpu(log=None) == 1  # once per process
        assert G.live_claims(tmp_path, 1) == [600]
    finally:
        G._job_claim.release()
        holder.release()
    monkeypatch.setattr(G, "_job_claim", None)
    monkeypatch.delenv(G.SLOTS_ENV)
    assert G.job_gpu(log=None) is None  # a stage run by hand: no claims


def test_cpu_device_is_unchanged_by_the_claim_settings(tmp_path, monkeypatch):
    from stylizednerf.device import resolve_device

    monkeypatch.setenv(G.SLOTS_ENV, str(tmp_path))
    monkeypatch.setenv(G.MEM_ENV, "1000")
    assert resolve_device("cpu").type == "cpu"
    if not __import__("torch").cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        assert not list(tmp_path.glob("gpu*"))


def test_ray_cache_sizes_itself_to_the_declared_memory():
    cap = 12 * 2 ** 30
    # declared: the job's MB less the reserve, capped by ray_cache_bytes and by what is free
    assert cache_limit(cap, "cuda", free_bytes=100 * 2 ** 30, job_gpu_mem_mb=50000, reserve_mb=40000) == 10000 * MB
    assert cache_limit(cap, "cuda", free_bytes=100 * 2 ** 30, job_gpu_mem_mb=80000, reserve_mb=40000) == cap
    assert cache_limit(cap, "cuda", free_bytes=5 * 2 ** 30, job_gpu_mem_mb=80000, reserve_mb=40000) == 5 * 2 ** 30
    assert cache_limit(cap, "cuda", free_bytes=100 * 2 ** 30, job_gpu_mem_mb=30000, reserve_mb=40000) == 0
    # not 60 % of the free memory when declared: another job's later allocations are its own business
    assert cache_limit(cap, "cuda", free_bytes=10 * 2 ** 30, job_gpu_mem_mb=50000, reserve_mb=42000) == 8000 * MB
    # nothing declared: today's rule, 60 % of the free memory
    assert cache_limit(cap, "cuda", free_bytes=10 * 2 ** 30) == int(0.6 * 10 * 2 ** 30)
    # CPU and switched off
    assert cache_limit(cap, "cpu", job_gpu_mem_mb=50000, reserve_mb=40000) == cap
    assert cache_limit(0, "cuda", free_bytes=10 * 2 ** 30, job_gpu_mem_mb=50000) == 0


def test_arf_reserve_default_leaves_the_cache_room_and_reaches_the_cache():
    """ARF's job keeps its own reserve (not the whole declaration for the cache): the schema's arf
    gpu_mem_mb less arf.ray_cache_reserve_mb holds fern's 8.2 GB cache, and the settings carry it."""
    from stylizednerf.settings import ArfSettings, schema_default

    room = schema_default("gpu_mem_mb.arf") - schema_default("arf.ray_cache_reserve_mb")
    assert 0 < room * MB and room * MB >= 8.2e9
    settings = ArfSettings.from_config({"arf": {"ray_cache_reserve_mb": 30000}}).to_dict()
    assert settings["ray_cache_reserve_mb"] == 30000
    assert cache_limit(12 * 2 ** 30, "cuda", free_bytes=100 * 2 ** 30, job_gpu_mem_mb=36000,
                       reserve_mb=settings["ray_cache_reserve_mb"]) == 6000 * MB


def test_stylize_reserve_default_leaves_the_cache_room_under_the_stylize_declaration():
    """The schema's stylize gpu_mem_mb less the reserve holds fern's measured 8.2 GB cache."""
    from stylizednerf.settings import schema_default

    room = schema_default("gpu_mem_mb.stylize") - schema_default("stylize.ray_cache_reserve_mb")
    assert room * MB >= 8.2e9
