"""Standard output that cannot be written: a reader that went away, or a device that refused.

`cloudbackup list --json | head -1` closes the pipe before the listing is written; that is the reader's
choice, not a failure to report, so the command stops as a program stopped by SIGPIPE does: no message,
status 128 + 13. Any other write error (a full disk) is said in one line. Only writes to standard
output count: a full disk under the local store is the command's own failure, reported as such.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, TextIO

SIGPIPE_STATUS = 128 + signal.SIGPIPE


class OutputFailed(Exception):  # not an OSError: storage code that handles those must not take it
    """Writing standard output failed with `error`."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error

    def exit_status(self, stream: TextIO) -> int:
        """Said on stderr unless it is a closed pipe; Python's own flush of `stream` (the one that
        failed) at exit is kept quiet."""
        _discard_buffered(stream)
        if isinstance(self.error, BrokenPipeError):
            return SIGPIPE_STATUS
        print(f"cloudbackup: cannot write the output: {self.error.strerror or self.error}", file=sys.stderr)
        return 1


class GuardedOutput:
    """Standard output whose write errors surface as OutputFailed; everything else as the stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputFailed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputFailed(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard_buffered(stream: TextIO) -> None:
    # What is still buffered would be flushed again at exit, printing a second error: point the
    # file descriptor at /dev/null first.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass  # no file descriptor behind it: nothing will be flushed into one either
    finally:
        os.close(devnull)
