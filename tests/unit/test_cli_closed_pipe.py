"""Output into a pipe whose reader has gone (`cloudbackup list --json | head -1`) is no error of ours:
no "internal error" line, and the exit status a program stopped by SIGPIPE has (128 + 13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    # The read end is closed before the command starts, so its first write meets a broken pipe
    # whatever the timing.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "cloudbackup.cli.main", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_list_into_a_closed_pipe_stops_quietly(tmp_path):
    # Given an empty local store (list --json still prints its empty list)
    # When its listing goes into a pipe nobody reads
    done = run_into_closed_pipe("list", "--data", str(tmp_path), "--json")

    # Then nothing is reported as an error, and the status is SIGPIPE's
    assert "internal error" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert done.stderr == ""
    assert done.returncode == 128 + signal.SIGPIPE


def test_output_to_a_file_that_fails_otherwise_is_still_reported(tmp_path):
    # Given stdout on a full device (a write error that is not a closed pipe)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "cloudbackup.cli.main", "list", "--data", str(tmp_path), "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )

    # Then the failure is said in one line, as a write error rather than an internal one
    assert done.returncode == 1
    assert done.stderr == "cloudbackup: cannot write the output: No space left on device\n"
