"""A backup run: each database of the event in turn, within the invocation's time budget.

Every database ends as succeeded, failed, stopped (the time budget ran out mid-dump: the engine aborted
the upload and wrote no manifest) or not_started; each outcome is published as an event and counted.
Every run makes new backup ids, so a duplicate delivery of the same event adds a second complete backup
and never touches the first.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from cloudbackup.errors import CloudBackupError
from handlers import constants as c
from handlers.failures import RunFailed, is_bad_usage
from handlers.models import BackupEvent, BackupRunResult, DatabaseOutcome, InvalidEvent
from handlers.runtime import Run
from handlers.secrets import SecretError
from handlers.settings import SourceConfig

if TYPE_CHECKING:  # types only: the modules load with the engine, on first use
    from cloudbackup.dburl import DbSettings
    from cloudbackup.storage.base import Storage

log = logging.getLogger(__name__)


class BackupRunFailed(RunFailed):
    """Some databases were not backed up; the message says which were done and which were not."""

    def __init__(self, result: BackupRunResult) -> None:
        super().__init__(result.describe())
        self.result = result


class BackupRunRefused(BackupRunFailed):
    """Every database not backed up was refused for bad usage (an unknown database, a wrong password…):
    what the CLI exits 2 for. A failed operation among them makes it a BackupRunFailed."""

    exit_code = 2


class BackupRun(Run):
    def run(self, request: BackupEvent) -> BackupRunResult:
        """Back up the event's databases; raise BackupRunFailed unless every one succeeded."""
        source = self._check(request)
        self.metrics.add_dimension(c.DIMENSION_SOURCE, request.source)
        requested = request.names()
        if requested is None and source.databases != "*":
            requested = list(source.databases)
        try:
            with self.segment("connect", source=request.source):
                db, available = self._connect(source)
                store = self.engine.open_store()
        except (SecretError, CloudBackupError) as exc:
            failed = [
                DatabaseOutcome(database=n, status="failed", error=str(exc), bad_usage=is_bad_usage(exc))
                for n in requested or ["*"]
            ]
            return self._finish(request.source, failed)
        names = available if requested is None else requested
        if not names:
            # "*" on a server that shows this user no database: its grants, not a quiet success.
            error = f"no databases to back up: {db.redacted()} sees no user database (check its grants)"
            return self._finish(request.source, [DatabaseOutcome(database="*", status="failed", error=error)])
        outcomes = [self._one(request.source, db, store, name, known=name in available) for name in names]
        return self._finish(request.source, outcomes)

    def _connect(self, source: SourceConfig) -> tuple[DbSettings, list[str]]:
        """The server's credentials and user databases. Listing the databases proves the credentials
        work before any dump starts; if the cached secret fails, the secret is read again once, so a
        password rotated within the cache's lifetime does not fail the backup."""
        db = source.with_tls(self.engine.read_secret(source.secret_arn, False))
        try:
            return db, self.engine.resolve_databases(db, None)
        except CloudBackupError:
            fresh = source.with_tls(self.engine.read_secret(source.secret_arn, True))
            if fresh == db:
                raise
            log.info("the cached database secret was out of date; using the current one")
            return fresh, self.engine.resolve_databases(fresh, None)

    def _check(self, request: BackupEvent) -> SourceConfig:
        """Refuse an event naming an unknown source or databases outside the source's configuration."""
        source = self.source_of(request.source)
        refused = [n for n in request.names() or [] if not source.allows_backup_of(n)]
        if refused:
            raise InvalidEvent(
                f"invalid event: databases: {', '.join(refused)} not configured for source {request.source!r}"
            )
        return source

    @property
    def _margin_ms(self) -> float:
        return self.settings.safety_margin_seconds * 1000

    def _one(self, source: str, db: DbSettings, store: Storage, name: str, *, known: bool) -> DatabaseOutcome:
        if not known:
            try:
                # Not in the list of user databases: let the engine say whether it exists at all.
                self.engine.resolve_databases(db, [name])
            except CloudBackupError as exc:
                return DatabaseOutcome(
                    database=name, status="failed", error=str(exc), bad_usage=is_bad_usage(exc)
                )
        if self.remaining_ms() <= self._margin_ms:
            return DatabaseOutcome(
                database=name, status="not_started", error=self._budget_message("not started")
            )
        stopped = False

        def should_stop() -> bool:
            nonlocal stopped
            stopped = stopped or self.remaining_ms() <= self._margin_ms
            return stopped

        started = time.monotonic()
        try:
            with self.segment("backup", source=source, database=name):
                manifest = self.engine.backup_database(
                    db,
                    name,
                    store,
                    source=source,
                    compression=self.settings.compression,
                    should_stop=should_stop,
                )
        except Exception as exc:
            seconds = round(time.monotonic() - started, 3)
            if stopped:
                return DatabaseOutcome(
                    database=name,
                    status="stopped",
                    duration_seconds=seconds,
                    error=self._budget_message("stopped mid-dump, upload aborted, no manifest written"),
                )
            if not isinstance(exc, CloudBackupError):
                log.exception("backup of %s failed unexpectedly", name)
            message = str(exc) if isinstance(exc, CloudBackupError) else f"{type(exc).__name__}: {exc}"
            message = message.splitlines()[0] if message else type(exc).__name__
            return DatabaseOutcome(
                database=name,
                status="failed",
                duration_seconds=seconds,
                error=message,
                bad_usage=is_bad_usage(exc),
            )
        return DatabaseOutcome(
            database=name,
            status="succeeded",
            backup_id=manifest.id,
            location=store.location(manifest.data.key),
            size=manifest.data.size,
            tables=len(manifest.tables),
            rows=sum(t.rows for t in manifest.tables),
            duration_seconds=round(time.monotonic() - started, 3),
        )

    def _budget_message(self, what: str) -> str:
        return (
            f"time budget: less than {self.settings.safety_margin_seconds:g} s of the invocation left; {what}"
        )

    def _finish(self, source: str, outcomes: list[DatabaseOutcome]) -> BackupRunResult:
        result = BackupRunResult(source=source, databases=outcomes)
        with self.segment("report", source=source):
            for outcome in outcomes:
                self._count(outcome)
                self.publisher.backup_outcome(source, outcome)
        if not result.complete:
            log.error(result.describe(), extra={"result": result.model_dump(mode="json")})
            raise (BackupRunRefused if result.bad_usage else BackupRunFailed)(result)
        log.info(result.describe(), extra={"result": result.model_dump(mode="json")})
        return result

    def _count(self, outcome: DatabaseOutcome) -> None:
        if outcome.status != "succeeded":
            self.metrics.add_metric(name=c.METRIC_BACKUP_FAILURES, unit=MetricUnit.Count, value=1)
            return
        self.metrics.add_metric(name=c.METRIC_BACKUP_SUCCEEDED, unit=MetricUnit.Count, value=1)
        self.metrics.add_metric(name=c.METRIC_BACKUP_BYTES, unit=MetricUnit.Bytes, value=outcome.size or 0)
        self.metrics.add_metric(name=c.METRIC_BACKUP_ROWS, unit=MetricUnit.Count, value=outcome.rows or 0)
        self.metrics.add_metric(
            name=c.METRIC_BACKUP_DURATION, unit=MetricUnit.Seconds, value=outcome.duration_seconds
        )
