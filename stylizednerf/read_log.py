"""Which files a stage read: a record for checking that the workflow declares every input.

With ``STYLIZEDNERF_READ_LOG=<folder>`` set, ``python -m stylizednerf <stage>`` installs an audit
hook (:func:`sys.addaudithook`, the ``open`` event) that notes every file the process opens,
and writes ``<folder>/<pid>.json`` at exit: the stage's argv, its working directory and the files it
read, less those it had written itself first (temporary outputs it reads back). Reads by native
code that bypasses Python's ``open`` (COLMAP's C++ image reader, ffmpeg) are not seen.

Unset (the normal case), nothing is installed and nothing costs anything.
"""

import atexit
import json
import os
import sys

ENV = "STYLIZEDNERF_READ_LOG"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def opened_for_writing(mode, flags) -> bool:
    """The ``open`` audit event's (mode, flags): ``mode`` from ``open()``, ``flags`` from ``os.open``."""
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


class ReadLog:
    """Files read and written by this process (absolute paths)."""

    def __init__(self):
        self.read: list[str] = []
        self.written: set[str] = set()

    def note(self, path, mode, flags) -> None:
        if isinstance(path, int):  # an already-open descriptor: its open was noted
            return
        path = os.path.abspath(os.fsdecode(path))
        if opened_for_writing(mode, flags):
            self.written.add(path)
        elif path not in self.written and os.path.isfile(path):
            self.read.append(path)

    def hook(self, event, args) -> None:
        if event == "open" and args:
            self.note(args[0], args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None)

    def record(self, argv) -> dict:
        return {"argv": list(argv), "cwd": os.getcwd(), "read": sorted(set(self.read))}


def install(folder: str, argv) -> ReadLog:
    """Start noting reads; write ``folder/<pid>.json`` at exit."""
    log = ReadLog()
    sys.addaudithook(log.hook)  # cannot be removed: this process is one stage run, then exits

    def write():
        os.makedirs(folder, exist_ok=True)
        record = log.record(argv)
        path = os.path.join(folder, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as handle:
            json.dump(record, handle, indent=1)
        os.replace(path + ".tmp", path)

    atexit.register(write)
    return log


def install_from_environment(argv) -> ReadLog | None:
    folder = os.environ.get(ENV)
    return install(folder, argv) if folder else None
