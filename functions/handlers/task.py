"""Fargate entry point `python -m handlers.task`: the same runs as the functions, without a time budget.

A source whose runner is fargate has no 15-minute limit: its schedule starts an ECS task whose container
bootstrap (infra/task_bootstrap.py) unpacks the same asset the functions deploy and runs this module. The
event is the one the function would get, from CLOUDBACKUP_EVENT: a backup event (`databases`), a
restore event or a drill event (`"drill": true`); or, for the binlog follower a pitr source runs as an
ECS service, `{"source": ..., "binlog": "follow"}`. It is parsed into the same models and handed to the
same runs (handlers.backup_run, restore_run, drill_run, binlog_run); the result is printed as one JSON
line, and the exit code is the CLI's: 0 done, 1 failed, 2 bad usage (a bad event or setting, or what the
engine calls bad usage: a non-empty target, an unknown database or table, a wrong password…).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cloudbackup.errors import CloudBackupError
from handlers import constants as c
from handlers.failures import RunFailed
from handlers.models import InvalidEvent

if TYPE_CHECKING:  # (the runs load with the event, after the settings are read)
    from handlers.runtime import Runtime

NO_BUDGET_MS = 10**12  # a task runs until it is done; the runs' time budget never applies


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        event = json.loads(env.get(c.ENV_TASK_EVENT) or "null")
    except json.JSONDecodeError as exc:
        print(f"cloudbackup task: {c.ENV_TASK_EVENT} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(event, dict):
        print(f"cloudbackup task: {c.ENV_TASK_EVENT} must hold the event as a JSON object", file=sys.stderr)
        return 2
    from handlers.settings import SettingsError, load_settings

    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(f"cloudbackup task: {exc}", file=sys.stderr)
        return 2
    try:
        result = _run(settings, event)
    except InvalidEvent as exc:
        print(f"cloudbackup task: {exc}", file=sys.stderr)
        return 2
    except (
        RunFailed
    ) as exc:  # BackupRunFailed, RestoreFailed, DrillFailed: the message says what was not done
        print(f"cloudbackup task: {exc}", file=sys.stderr)
        return exc.exit_code
    except RuntimeError as exc:
        print(f"cloudbackup task: {exc}", file=sys.stderr)
        return 1
    except CloudBackupError as exc:  # the follower's engine failing: one line; the service starts another
        print(f"cloudbackup task: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result))
    return 0


def _run(settings: Any, event: dict[str, Any]) -> dict[str, Any]:
    from handlers.runtime import Runtime

    runtime = Runtime.start(settings)
    runtime.observability.logger.set_correlation_id(str(event.get("correlation_id") or uuid.uuid4()))
    try:
        if "databases" in event:
            return _backup(runtime, event)
        if "binlog" in event:
            return _follow_binlog(runtime, event)
        return _restore(runtime, event)
    finally:
        # What the Lambda decorator does after each invocation: the metrics go out as EMF log lines.
        runtime.observability.metrics.flush_metrics()


def _no_budget() -> int:
    return NO_BUDGET_MS


def _backup(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    from handlers.backup_run import BackupRun
    from handlers.models import BackupEvent, parse_event

    run = BackupRun.of(runtime, _no_budget)
    return run.run(parse_event(BackupEvent, event)).model_dump(mode="json")


def _follow_binlog(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """`binlog archive --follow` as a service's task: until ECS stops it (SIGTERM), then commit and exit 0.
    A follower that dies is replaced by the service; the next resumes after the last committed segment."""
    from cloudbackup.stopping import stop_on_signals
    from handlers.binlog_run import BinlogRun
    from handlers.models import BinlogFollowEvent, parse_event

    request = parse_event(BinlogFollowEvent, event)
    stop = stop_on_signals()
    return BinlogRun.of(runtime, _no_budget).follow(request, stop.is_set).model_dump(mode="json")


def _restore(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """A restore, or a restore drill (`"drill": true`), as the restore function runs them."""
    from handlers.restore_or_drill import run_restore_or_drill

    return run_restore_or_drill(event, runtime, _no_budget).model_dump(mode="json")


if __name__ == "__main__":
    sys.exit(main())
