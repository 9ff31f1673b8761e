"""The question before `restore --in-place` replaces a database: asked on a terminal only.

A script or a cron job (stdin not a terminal) is never asked: it must say --yes, or it is refused
before anything changes, so a forgotten flag cannot hang a job or replace a database unseen.
The question names the server (at 3 a.m. several terminals are open on several servers), and only
the whole word "yes" goes on: a reflexive "y" or Enter replaces nothing.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TextIO

from cloudbackup.errors import OperationError, UsageError
from cloudbackup.mysql.staging import before_name
from cloudbackup.restore import refuse_unusable_target


def confirm_in_place(
    target: str,
    what: str,
    *,
    server: str,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
) -> None:
    """Ask before `what` (e.g. `backup 3fa2c1 (s3 s3://...)`) replaces `target` on `server` (HOST:PORT);
    raise unless the answer is yes."""
    refuse_unusable_target(target)  # refused whatever the answer: never asked
    stdin = stdin or sys.stdin  # None when started without one (a daemon): never asked either
    stderr = stderr or sys.stderr
    keep = before_name(target, datetime.now(UTC))
    if stdin is None or not stdin.isatty():
        raise UsageError(
            f"--in-place replaces database {target} (its tables kept in {keep}); "
            "stdin is not a terminal, so confirm with --yes"
        )
    stderr.write(
        f"Replace database {target} with {what}?\n"
        f"On server {server}, its current tables will be kept in {keep} (the time of the swap). "
        "Type yes to go on: "
    )
    stderr.flush()
    answer = stdin.readline().strip().lower()
    if answer != "yes":
        raise OperationError(f"restore into {target} cancelled (only yes goes on); nothing changed")
