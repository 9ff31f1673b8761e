"""Progress of long work (backup, restore): tables, rows, bytes and rate.

A terminal gets one line that updates in place; pipes, logs and Lambda get nothing, so their output
stays the result and nothing else.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

REFRESH_SECONDS = 0.25


class Progress(Protocol):
    def begin(self, what: str, tables: int) -> None:
        """Start a unit of work (`backup shop`) that covers `tables` tables."""
        ...

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        """Count finished tables, rows and (uncompressed) bytes since the last call."""
        ...

    def end(self) -> None:
        """The unit of work is over (done or failed): leave the terminal clean."""
        ...


class NoProgress:
    def begin(self, what: str, tables: int) -> None:
        pass

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        pass

    def end(self) -> None:
        pass


class TerminalProgress:
    """One updating line on a TTY: `backup shop: 3/16 tables, 120,431 rows, 41.2 MB, 38.5 MB/s`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._what = ""
        self._tables_total = 0
        self._tables = self._rows = self._bytes = 0
        self._started = self._shown = 0.0
        self._width = 0

    def begin(self, what: str, tables: int) -> None:
        self._what, self._tables_total = what, tables
        self._tables = self._rows = self._bytes = 0
        self._started = time.monotonic()
        self._shown = 0.0
        self._show()

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        self._tables += tables
        self._rows += rows
        self._bytes += bytes
        if time.monotonic() - self._shown >= REFRESH_SECONDS:
            self._show()

    def end(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        return (
            f"{self._what}: {self._tables}/{self._tables_total} tables, {self._rows:,} rows, "
            f"{self._bytes / 1e6:.1f} MB, {self._bytes / 1e6 / elapsed:.1f} MB/s"
        )

    def _show(self) -> None:
        text = self.line()
        pad = max(self._width - len(text), 0)
        self._stream.write("\r" + text + " " * pad)
        self._stream.flush()
        self._width = len(text)
        self._shown = time.monotonic()


def for_terminal(stream: TextIO | None = None) -> Progress:
    """A terminal progress line when `stream` (stderr by default) is a TTY, otherwise nothing."""
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return TerminalProgress(out)
    return NoProgress()
