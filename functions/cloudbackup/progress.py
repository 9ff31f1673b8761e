"""Progress of long work (backup, restore): share done, tables, rows, bytes, rate, time left, the table.

A terminal gets one line that updates in place; pipes, logs and Lambda get nothing, so their output
stays the result and nothing else. Sizes are binary (KiB, MiB), as everywhere in the CLI.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Protocol, TextIO

REFRESH_SECONDS = 0.25
MIB = 1024 * 1024


class Progress(Protocol):
    def begin(self, what: str, tables: int) -> None:
        """Start a unit of work (`backup shop`) that covers `tables` tables."""
        ...

    def expect(self, total_bytes: int) -> None:
        """The (uncompressed) bytes the work will cover, when known: the share done and time left."""
        ...

    def estimate_rows(self, total_rows: int) -> None:
        """The server's estimate of the rows the work will cover: an approximate share and time left."""
        ...

    def current(self, table: str) -> None:
        """The table being read or loaded now."""
        ...

    def state(self, text: str) -> None:
        """A phase after the tables (`uploading`): shown in place of the current table."""
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

    def expect(self, total_bytes: int) -> None:
        pass

    def estimate_rows(self, total_rows: int) -> None:
        pass

    def current(self, table: str) -> None:
        pass

    def state(self, text: str) -> None:
        pass

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        pass

    def end(self) -> None:
        pass


class TerminalProgress:
    """One updating line on a TTY:
    `restore shop: 42%, 3/16 tables, 120,431 rows, 41.2 MiB, 38.5 MiB/s, 0:12 left, table orders`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._what = ""
        self._tables_total = self._bytes_total = self._rows_estimate = 0
        self._tables = self._rows = self._bytes = 0
        self._started = self._shown = 0.0
        self._width = 0
        self._doing = ""

    def begin(self, what: str, tables: int) -> None:
        self._what, self._tables_total = what, tables
        self._tables = self._rows = self._bytes = self._bytes_total = self._rows_estimate = 0
        self._doing = ""
        self._started = time.monotonic()
        self._shown = 0.0
        self._show()

    def expect(self, total_bytes: int) -> None:
        self._bytes_total = max(total_bytes, 0)

    def estimate_rows(self, total_rows: int) -> None:
        self._rows_estimate = max(total_rows, 0)

    def current(self, table: str) -> None:
        self._doing = f"table {table}"
        self._maybe_show()

    def state(self, text: str) -> None:
        self._doing = text
        self._show()

    def add(self, *, tables: int = 0, rows: int = 0, bytes: int = 0) -> None:
        self._tables += tables
        self._rows += rows
        self._bytes += bytes
        self._maybe_show()

    def end(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        parts = []
        done, about = self._share()
        if done is not None:
            parts.append(f"{about}{done:.0%}")
        parts += [
            f"{self._tables}/{self._tables_total} tables",
            f"{self._rows:,} rows",
            f"{self._bytes / MIB:.1f} MiB",
            f"{self._bytes / MIB / elapsed:.1f} MiB/s",
        ]
        if done:
            left = (1.0 - done) * elapsed / done
            parts.append(f"{about}{_clock(left)} left")
        if self._doing:
            parts.append(self._doing)
        return f"{self._what}: " + ", ".join(parts)

    def _share(self) -> tuple[float | None, str]:
        """(share done, "" or "~" when it rests on the server's row estimate); None when unknown."""
        if self._bytes_total:
            return min(self._bytes / self._bytes_total, 1.0), ""
        if self._rows_estimate:
            return min(self._rows / self._rows_estimate, 0.99), "~"  # an estimate: never claims done
        return None, ""

    def _maybe_show(self) -> None:
        if time.monotonic() - self._shown >= REFRESH_SECONDS:
            self._show()

    def _show(self) -> None:
        # A line longer than the terminal would wrap, and `\r` could no longer redraw it in place.
        text = self.line()[: _columns(self._stream) - 1]
        pad = max(self._width - len(text), 0)
        self._stream.write("\r" + text + " " * pad)
        self._stream.flush()
        self._width = len(text)
        self._shown = time.monotonic()


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 200
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both OSError and ValueError
        return 200


def for_terminal(stream: TextIO | None = None) -> Progress:
    """A terminal progress line when `stream` (stderr by default) is a TTY, otherwise nothing."""
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return TerminalProgress(out)
    return NoProgress()
