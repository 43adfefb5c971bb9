"""Read and split documents in a child process with a memory limit (RLIMIT_AS, QA_READ_MEMORY_MB)
and a CPU time limit (RLIMIT_CPU, QA_READ_SECONDS), so that a hostile file costs a child that
ends, never a server worker or a build: past either limit the document is refused with a
DocumentError that says which limit, and the next document gets a fresh child.

One child reads many documents in turn (a build of a thousand small files starts one
interpreter, not a thousand); it starts afresh after a refusal, and when what it has allocated
reaches half its limit, so what one document left behind does not count against the next.
"""

from __future__ import annotations

import os
import pickle
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .config import Settings
from .documents import Document, DocumentError, read_document
from .passages import Passage, split_document

# The child's own start (Python and the readers' imports) is not a document's time.
START_SECONDS = 60
# A read that waits rather than computes (it should not; a child stopped by a debugger, a file
# on a hung network mount) is ended at this many times QA_READ_SECONDS of wall-clock time.
WALL_CLOCK_FACTOR = 3


def read_and_split(path: Path, name: str) -> tuple[Document, list[Passage]]:
    """Read one corpus file and split it into passages, in this process. Raises DocumentError
    for a file that cannot be read."""
    document = read_document(path, name)
    return document, split_document(document)


class ReaderProcess:
    """Reads documents in a child process within `memory_mb` and `seconds` of CPU each. Use it
    as a context manager, or close() it: the child ends then (and on its own when this process
    goes away)."""

    def __init__(self, memory_mb: int, seconds: int):
        self.memory_mb = memory_mb
        self.seconds = seconds
        self.peak_mb = 0.0  # the child's peak resident memory while it read the last document
        self._child: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._fresh = False  # a child just started: its own start does not count against the document

    @classmethod
    def for_settings(cls, settings: Settings) -> "ReaderProcess":
        return cls(settings.read_memory_mb, settings.read_seconds)

    def __enter__(self) -> "ReaderProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, path: Path, name: str) -> tuple[Document, list[Passage]]:
        """The document at `path` and its passages; DocumentError when it cannot be read or
        goes past a limit, OSError when the file itself cannot be opened."""
        if self._child is None:
            self._start()
        self._connection.send((str(path), name))
        kind, payload, self.peak_mb, ending = self._answer(name)
        if ending:
            self.close()
        if kind == "refused":
            raise DocumentError(payload)
        if kind == "oserror":
            raise OSError(payload)
        return pickle.loads(payload)

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        self._connection.close()  # the child reads EOF and ends
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parent.parent)
        environment = {**os.environ,
                       "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        with theirs:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "qa_service.reader_process", str(theirs.fileno()), str(self.memory_mb),
                 str(self.seconds)],
                pass_fds=[theirs.fileno()], env=environment, stdin=subprocess.DEVNULL)
        self._connection = Connection(ours.detach())
        self._fresh = True

    def _answer(self, name: str) -> tuple:
        """The child's answer about `name`; a child that died or overstayed is a refusal."""
        child = self._child
        deadline = time.monotonic() + self.seconds * WALL_CLOCK_FACTOR + (START_SECONDS if self._fresh else 0)
        self._fresh = False
        peak = 0.0
        while True:
            peak = max(peak, _peak_mb(child.pid))  # sampled: a child the kernel ends cannot say
            if self._connection.poll(0.2):
                try:
                    return self._connection.recv()
                except (EOFError, OSError):
                    pass  # died while answering: see below
            status = child.poll()
            if status is not None or time.monotonic() > deadline:
                if status is None:
                    child.kill()
                    child.wait()
                return "refused", self._why(name, child.returncode, status is None), peak, True

    def _why(self, name: str, status: int, overstayed: bool) -> str:
        if overstayed:
            return (f"{name} took longer than {self.seconds * WALL_CLOCK_FACTOR} s to read and was stopped; "
                    "check that the file is complete, or raise QA_READ_SECONDS.")
        if status == -signal.SIGXCPU:
            return (f"{name} needs more than the {self.seconds} s of CPU time a document may take to read "
                    "(QA_READ_SECONDS); a file this hard to read is refused. Save it again in another program, "
                    "or raise QA_READ_SECONDS if it is a genuine document.")
        return (f"{name} could not be read: the reader ended (exit status {status}), most likely past the "
                f"{self.memory_mb} MB of memory a document may take (QA_READ_MEMORY_MB). Save the file again "
                "in another program, or raise QA_READ_MEMORY_MB if it is a genuine document.")


def _peak_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM: counted from its exec, not its parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _serve(connection: Connection, memory_mb: int, seconds: int) -> None:
    """The child: read each (path, name) the parent sends until it closes the connection. Each
    answer is (kind, payload, peak MB, whether this child ends after it)."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            path, name = connection.recv()
        except (EOFError, OSError):
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(usage.ru_utime + usage.ru_stime) + 1
        # SIGXCPU at the soft limit ends this child; the parent says why.
        resource.setrlimit(resource.RLIMIT_CPU, (spent + seconds, resource.RLIM_INFINITY))
        try:
            kind, payload = "read", pickle.dumps(read_and_split(Path(path), name), protocol=pickle.HIGHEST_PROTOCOL)
        except DocumentError as exc:
            # A parser that could not allocate says so in its own words ("Unable to allocate
            # output buffer", "Memory allocation failed"): that is this limit too.
            kind, payload = ("memory", _memory_refusal(name, memory_mb)) if _ALLOCATION.search(str(exc)) else (
                "refused", str(exc))
        except OSError as exc:
            kind, payload = "oserror", str(exc)
        except MemoryError:
            kind, payload = "memory", _memory_refusal(name, memory_mb)
        # What the document left allocated would count against the next one: a new child then.
        ending = kind == "memory" or _allocated() > limit // 2
        connection.send(("refused" if kind == "memory" else kind, payload, _peak_mb(os.getpid()), ending))
        if ending:
            return


_ALLOCATION = re.compile(r"\ballocat|\bmemory\b", re.IGNORECASE)


def _memory_refusal(name: str, memory_mb: int) -> str:
    return (f"{name} needs more than the {memory_mb} MB of memory a document may take to read "
            "(QA_READ_MEMORY_MB); a file this costly to read is refused. Save it again in another program, "
            "or raise QA_READ_MEMORY_MB if it is a genuine document.")


def _allocated() -> int:
    """This process's address space in bytes (what RLIMIT_AS counts)."""
    return int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]))
