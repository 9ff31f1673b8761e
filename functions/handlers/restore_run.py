"""A restore run: check the event against the source's allow-list, find the backup, call the engine.

Everything that can be refused is refused before the database is touched: an unknown source, a target
outside the allow-list, an in-place restore without `in_place: true` (see RestoreEvent). A restore runs
within the invocation's time budget (handlers/budget.py): with less than the safety margin left it does not
start, and when the time left falls under it the engine stops before publishing, the target as it was.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from cloudbackup.errors import CloudBackupError
from handlers import constants as c
from handlers.budget import TimeBudget
from handlers.failures import RunFailed, is_bad_usage
from handlers.models import InvalidEvent, RestoreEvent, RestoreSummary
from handlers.runtime import Run
from handlers.secrets import SecretError
from handlers.settings import SourceConfig

if TYPE_CHECKING:  # (the engine's modules load at the first restore, not at cold start)
    from cloudbackup.restore import RestoreResult

log = logging.getLogger(__name__)


# The engine speaks the command line's language; the function's caller wrote an event.
_FLAG_AS_FIELD = {
    "--in-place": '"in_place": true',
    "--target-database": "target_database",
    "--table": "tables",
    "--backup": "backup",
    "--database": "database",
    "--to-time": "to_time",
    "--definer current": '"definer": "current"',
}
_FLAG = re.compile(
    "|".join(re.escape(flag) for flag in sorted(_FLAG_AS_FIELD, key=len, reverse=True)) + r"\b"
)


def in_event_terms(message: str) -> str:
    """`use --in-place` -> `use "in_place": true`: name the event's fields, not the CLI's flags."""
    return _FLAG.sub(lambda m: _FLAG_AS_FIELD[m.group(0)], message)


class RestoreFailed(RunFailed):
    """The restore did not happen or did not complete; the engine left the target as it was."""


class RestoreRefused(RestoreFailed):
    """The restore was refused for bad usage (a non-empty target, an unknown table, a time before every
    backup, a wrong password…): what the CLI exits 2 for. Nothing was changed."""

    exit_code = 2


class RestoreRun(Run):
    def run(self, request: RestoreEvent) -> RestoreSummary:
        source = self._check(request)
        self.metrics.add_dimension(c.DIMENSION_SOURCE, request.source)
        budget = TimeBudget(self.remaining_ms, self.settings.safety_margin_seconds)
        started = time.monotonic()
        try:
            budget.start(f"restore of {request.database!r} into {request.target!r}")
            summary = self._restore(request, source, budget.should_stop)
        except (CloudBackupError, SecretError) as exc:
            self.metrics.add_metric(name=c.METRIC_RESTORE_FAILURES, unit=MetricUnit.Count, value=1)
            message = budget.explain(exc) or in_event_terms(str(exc))
            log.error("restore of %s into %s failed: %s", request.database, request.target, message)
            raise (RestoreRefused if is_bad_usage(exc) else RestoreFailed)(message) from None
        if not request.dry_run:
            self.metrics.add_metric(name=c.METRIC_RESTORE_SUCCEEDED, unit=MetricUnit.Count, value=1)
            self.metrics.add_metric(
                name=c.METRIC_RESTORE_DURATION, unit=MetricUnit.Seconds, value=time.monotonic() - started
            )
        log.info(summary.message, extra={"result": summary.model_dump(mode="json")})
        return summary

    def _check(self, request: RestoreEvent) -> SourceConfig:
        source = self.source_of(request.source)
        if not source.allows_restore_into(request.target):
            field = "in_place" if request.in_place else "target_database"
            allowed = ", ".join(source.restore_allow) or "nothing"
            raise InvalidEvent(
                f"invalid event: {field}: restoring into {request.target!r} is not allowed for source "
                f"{request.source!r} (its restore allow-list: {allowed})"
            )
        return source

    def _restore(
        self, request: RestoreEvent, source: SourceConfig, should_stop: Callable[[], bool]
    ) -> RestoreSummary:
        if request.to_time is not None:
            return self._restore_to_time(request, source, request.to_time, should_stop)
        with self.segment("find backup", source=request.source, database=request.database):
            # Restores are rare and on demand: always the current secret, never a cached one.
            db = source.with_tls(self.engine.read_secret(source.restore_secret, True))
            entry = self.engine.find_backup(
                [self.engine.open_store()], request.backup, database=request.database, source=request.source
            )
        with self.segment("restore", source=request.source, database=request.database):
            result = self.engine.restore_backup(
                db,
                entry,
                target_database=None if request.in_place else request.target_database,
                in_place=request.in_place,
                tables=request.tables,
                dry_run=request.dry_run,
                definer=request.definer,
                should_stop=should_stop,
            )
        manifest = entry.manifest
        # The tables in scope; a dry run loads nothing, so its rows and bytes are what the backup holds.
        tables = request.tables or [t.name for t in manifest.tables]
        frames = [f for f in manifest.frames if f.kind == "table" and f.name in tables]
        rows = sum(f.rows for f in frames) if request.dry_run else result.rows
        size = sum(f.raw_length for f in frames) if request.dry_run else result.bytes
        verb = "would restore" if request.dry_run else "restored"
        counted = f"{len(tables)} table" + ("" if len(tables) == 1 else "s")
        message = (
            f"{verb} {counted} ({rows} rows) of {request.database!r} from backup "
            f"{manifest.id} ({manifest.started_at:%Y-%m-%dT%H:%M:%SZ}) into {request.target!r}"
            + (" in place" if request.in_place else "")
        )
        if result.previous_tables_kept_in:
            message += f"; the previous tables are kept in {result.previous_tables_kept_in!r}"
        if request.dry_run and result.replaces:
            message += f"; it would replace what {request.target!r} holds now: {', '.join(result.replaces)}"
        return RestoreSummary(
            **_as_the_cli_says(result),
            source=request.source,
            database=request.database,
            backup_id=manifest.id,
            backup_created_at=manifest.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            target_database=request.target,
            in_place=request.in_place,
            dry_run=request.dry_run,
            tables=tables,
            rows=rows,
            bytes=size,
            seconds=round(result.seconds, 3),
            previous_tables_kept_in=result.previous_tables_kept_in,
            verified=True,
            message=message,
        )

    def _restore_to_time(
        self, request: RestoreEvent, source: SourceConfig, to_time: datetime, should_stop: Callable[[], bool]
    ) -> RestoreSummary:
        with self.segment("restore to time", source=request.source, database=request.database):
            db = source.with_tls(self.engine.read_secret(source.restore_secret, True))
            result = self.engine.restore_to_time(
                db,
                [self.engine.open_store()],
                request.database,
                to_time,
                target_database=None if request.in_place else request.target_database,
                in_place=request.in_place,
                source=request.source,
                dry_run=request.dry_run,
                definer=request.definer,
                should_stop=should_stop,
            )
        if result.dry_run:
            message = (
                f"would restore {request.database!r} as it was at {result.to_time} into {request.target!r}: "
                f"backup {result.backup_id} ({result.backup_started_at}) verified, then the archived binlog "
                f"from {result.binlog_from} ({result.binlog_segments} segments, verified)"
            )
        else:
            message = (
                f"restored {request.database!r} as it was at {result.to_time} into {request.target!r}: "
                f"backup {result.backup_id} ({result.backup_started_at}) and "
                f"{result.binlog_transactions} transactions from the archived binlog"
            )
        message += " in place" if request.in_place else ""
        if result.previous_tables_kept_in:
            message += f"; the previous tables are kept in {result.previous_tables_kept_in!r}"
        return RestoreSummary(
            **_as_the_cli_says(result),
            source=request.source,
            database=request.database,
            backup_id=str(result.backup_id),
            backup_created_at=result.backup_started_at,
            target_database=request.target,
            in_place=request.in_place,
            dry_run=result.dry_run,
            tables=[],
            rows=result.rows,
            bytes=result.bytes,
            seconds=round(result.seconds, 3),
            previous_tables_kept_in=result.previous_tables_kept_in,
            verified=True,
            message=message,
            to_time=result.to_time,
            binlog_transactions=None if result.dry_run else result.binlog_transactions,
            binlog_from=result.binlog_from,
        )


def _as_the_cli_says(result: RestoreResult) -> dict[str, list[str]]:
    """The fields a restore's summary shares with `restore --json`, by the same names."""
    return {
        "replaces": list(result.replaces),
        "definers_rewritten": list(result.definers_rewritten),
        "stale_staging_dropped": list(result.stale_staging_dropped),
    }
