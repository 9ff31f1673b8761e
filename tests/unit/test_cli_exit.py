"""The command leaves without Python's teardown, but loses nothing by it: its output arrives whole, its
exit code is the command's, exit handlers still run, and a thread still at work is waited for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# leave() as a command ends: after output, with an exit handler registered (as logging and pending
# temporary-file finalizers register theirs), and optionally a thread still writing its file.
_PROGRAM = """
import atexit, sys, threading, time
from pathlib import Path
from cloudbackup.cli.main import leave

handler_file, thread_file, with_thread = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "yes"
atexit.register(handler_file.write_text, "handler ran")
if with_thread:
    def late_writer():
        time.sleep(0.3)
        thread_file.write_text("thread finished")
    threading.Thread(target=late_writer).start()
print("x" * 100_000, end="")  # more than a pipe holds: only a flush delivers all of it
leave(3)
"""


def run_program(tmp_path: Path, with_thread: bool) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    handler_file, thread_file = tmp_path / "handler", tmp_path / "thread"
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(handler_file), str(thread_file), "yes" if with_thread else "no"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, handler_file, thread_file


def test_leaving_keeps_the_exit_code_the_output_and_the_exit_handlers(tmp_path):
    # Given a program that printed 100 KB into a pipe and registered an exit handler
    # When it leaves with code 3
    done, handler_file, _ = run_program(tmp_path, with_thread=False)
    # Then the code is 3, every byte arrived, the handler ran, and nothing was reported
    assert done.returncode == 3
    assert done.stdout == "x" * 100_000
    assert handler_file.read_text() == "handler ran"
    assert done.stderr == ""


def test_leaving_waits_for_a_thread_still_at_work(tmp_path):
    # Given a program whose other thread is still working when it leaves
    done, handler_file, thread_file = run_program(tmp_path, with_thread=True)
    # Then that thread finished its work before the process ended, and the code is still 3
    assert thread_file.read_text() == "thread finished"
    assert handler_file.read_text() == "handler ran"
    assert done.returncode == 3


def test_the_command_line_output_arrives_whole_with_its_exit_code(tmp_path):
    # Given an empty local store
    # When `python -m cloudbackup.cli.main list --json` and a bad usage run to their ends
    listing = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "list", "--data", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    bad = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", "restore", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the listing's JSON is whole with code 0, and the usage error its one line with code 2
    assert listing.returncode == 0
    assert json.loads(listing.stdout) == []
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "error" in bad.stderr
