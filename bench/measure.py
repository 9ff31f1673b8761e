"""Run one command (or shell pipeline) and measure it: wall time and the peak RSS of its processes."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# GNU time reports the peak RSS of what it runs; a forked Python child would also count the RSS it
# inherited from this process before exec.
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_mb: float  # the largest single process of the command (a pipeline's biggest stage)
    stdout: bytes


@dataclass
class Runs:
    """Repeated measurements of one tool: the median time is reported, the worst memory."""

    items: list[Measurement] = field(default_factory=list)

    def add(self, m: Measurement) -> Measurement:
        self.items.append(m)
        return m

    @property
    def seconds(self) -> float:
        return statistics.median(m.seconds for m in self.items)

    @property
    def best(self) -> float:
        return min(m.seconds for m in self.items)

    @property
    def rss(self) -> float:
        return max(m.peak_rss_mb for m in self.items)


def measure(command: list[str] | str) -> Measurement:
    """Run to completion; raise if it fails. A string is a pipeline, run by `bash -o pipefail -c`."""
    args = ["bash", "-o", "pipefail", "-c", command] if isinstance(command, str) else command
    with tempfile.TemporaryDirectory(prefix="cbbench-time-") as tmp:
        report = Path(tmp) / "rss"
        timed = [GNU_TIME, "-f", "%M", "-o", str(report), *args] if GNU_TIME else args
        m = _run(timed)
        if GNU_TIME:
            m = Measurement(m.seconds, int(report.read_text().split()[-1]) / 1024, m.stdout)
    return m


def _run(args: list[str]) -> Measurement:
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, stderr))
    reader.start()
    stdout = proc.stdout.read() if proc.stdout else b""
    # wait4's rusage covers the child and every descendant it waited for: the pipeline's stages.
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        message = b"".join(stderr).decode(errors="replace").strip()
        raise RuntimeError(f"{args!r} failed ({proc.returncode}): {message}")
    return Measurement(seconds=seconds, peak_rss_mb=usage.ru_maxrss / 1024, stdout=stdout)


def _drain(stream: IO[bytes] | None, into: list[bytes]) -> None:
    if stream is not None:
        into.append(stream.read())
