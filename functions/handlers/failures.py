"""A run that did not do what its event asked, and the exit code the CLI gives the same outcome.

The engine says which failures are bad usage (cloudbackup.errors.UsageError: a non-empty target, an
unknown database or table, a time before every backup, a wrong password…). Each run's failure keeps
that: its bad-usage subclass is raised for them, so an invocation's error type tells a mistake in the
request from a failed operation, and the Fargate task exits as the CLI does: 0 done, 1 failed, 2 bad usage.
"""

from __future__ import annotations

from cloudbackup.errors import CloudBackupError


class RunFailed(RuntimeError):
    """A backup, restore or drill run failed; the message says what was not done and why."""

    exit_code = 1


def is_bad_usage(exc: Exception) -> bool:
    """Whether the engine reported `exc` as bad usage (its exit code 2), not as a failed operation."""
    return isinstance(exc, CloudBackupError) and exc.exit_code == 2
