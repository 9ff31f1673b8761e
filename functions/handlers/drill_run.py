"""A restore drill run: find the backup, run the engine's drill on the drill server, report.

Every outcome is reported: a `Restore Drill Succeeded`/`Failed` event and the drill metrics (the
alarms watch `DrillFailures` and the absence of `DrillSucceeded`). A failed drill fails the invocation.
A drill keeps the invocation's time budget as a restore does (handlers/budget.py): it does not start, or
stops at a safe point, with less than the safety margin left; its scratch database is dropped either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from cloudbackup.errors import CloudBackupError
from handlers import constants as c
from handlers.budget import TimeBudget
from handlers.failures import RunFailed, is_bad_usage
from handlers.models import DrillEvent, DrillSummary, InvalidEvent
from handlers.runtime import Run
from handlers.secrets import SecretError
from handlers.settings import SourceConfig

log = logging.getLogger(__name__)


class DrillFailed(RunFailed):
    """The backup did not restore, or the restored copy did not match it; nothing was left behind."""


class DrillRefused(DrillFailed):
    """The drill was refused for bad usage (an unknown backup, a wrong password, a server of the other
    flavour…): what the CLI exits 2 for. Nothing was made."""

    exit_code = 2


class DrillRun(Run):
    def run(self, request: DrillEvent) -> DrillSummary:
        source = self._check(request)
        self.metrics.add_dimension(c.DIMENSION_SOURCE, request.source)
        summary = DrillSummary(
            source=request.source,
            database=request.database,
            target="drill" if source.drill_secret_arn else "source",
        )
        budget = TimeBudget(self.remaining_ms, self.settings.safety_margin_seconds)
        started = time.monotonic()
        try:
            budget.start(f"restore drill of {request.database!r}")
            self._drill(request, source, summary, budget.should_stop)
        except (CloudBackupError, SecretError) as exc:
            summary.error = budget.explain(exc) or str(exc)
            summary.seconds = round(time.monotonic() - started, 3)
            summary.message = f"restore drill of {request.database!r} failed: {summary.error}"
            self.metrics.add_metric(name=c.METRIC_DRILL_FAILURES, unit=MetricUnit.Count, value=1)
            log.error(summary.message, extra={"result": summary.model_dump(mode="json")})
            self.publisher.drill_outcome(summary)
            raise (DrillRefused if is_bad_usage(exc) else DrillFailed)(summary.message) from None
        self.metrics.add_metric(name=c.METRIC_DRILL_SUCCEEDED, unit=MetricUnit.Count, value=1)
        self.metrics.add_metric(name=c.METRIC_DRILL_DURATION, unit=MetricUnit.Seconds, value=summary.seconds)
        self.metrics.add_metric(
            name=c.METRIC_DRILL_RESTORE_SECONDS, unit=MetricUnit.Seconds, value=summary.restore_seconds
        )
        log.info(summary.message, extra={"result": summary.model_dump(mode="json")})
        self.publisher.drill_outcome(summary)
        return summary

    def _check(self, request: DrillEvent) -> SourceConfig:
        source = self.source_of(request.source)
        if not source.drill:
            raise InvalidEvent(
                f"invalid event: drill: source {request.source!r} has no restore drill configured"
            )
        return source

    def _drill(
        self,
        request: DrillEvent,
        source: SourceConfig,
        summary: DrillSummary,
        should_stop: Callable[[], bool],
    ) -> None:
        with self.segment("find backup", source=request.source, database=request.database):
            if source.drill_secret_arn is None:  # the source's own server: its TLS options, as every run
                db = source.with_tls(self.engine.read_secret(source.secret_arn, True))
            else:  # a server of its own, whose secret says its own TLS options (ssl_mode, ssl_ca)
                db = self.engine.read_secret(source.drill_secret_arn, True)
            entry = self.engine.find_backup(
                [self.engine.open_store()],
                request.backup,
                database=request.database,
                source=request.source,
                newest_must_restore=True,  # a drill of `latest` proves the newest backup, or fails
            )
        manifest = entry.manifest
        summary.backup_id = manifest.id
        summary.backup_created_at = manifest.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.segment("drill", source=request.source, database=request.database):
            result = self.engine.run_drill(db, entry, should_stop=should_stop)
        summary.tables, summary.rows = result.tables, result.rows
        summary.seconds, summary.restore_seconds = result.seconds, result.restore_seconds
        summary.verified = result.verified
        summary.message = (
            f"restore drill of {request.database!r}: backup {manifest.id} restored in "
            f"{result.restore_seconds:.1f} s and verified ({result.tables} tables, {result.rows} rows)"
        )
