"""A binlog run: archive the source's new binlog events, on a schedule within the invocation's time
budget, or (a fargate source's follower) continuously until the task is stopped.

A run stopped by the budget or by a stop signal has committed what it read (the next run, or the
follower the ECS service starts next, resumes there); a gap (events purged before they were archived) is
published as a `Binlog Gap` event and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from handlers import constants as c
from handlers.models import BinlogEvent, BinlogFollowEvent, BinlogRunResult
from handlers.runtime import Run

if TYPE_CHECKING:
    from cloudbackup.binlog.archive import ArchiveResult

log = logging.getLogger(__name__)

# A follower's metrics go out this often: the lag alarm (one period = binlog_interval_minutes, at least
# one minute) needs a value in every period, and a missing one counts as archiving having stopped.
FOLLOW_REPORT_SECONDS = 30.0


class BinlogRun(Run):
    def run(self, request: BinlogEvent) -> BinlogRunResult:
        """One scheduled run: to the server's end, or until the invocation's budget runs short."""
        # A short invocation (a one-minute interval) keeps three quarters of itself for the archive.
        margin_ms = min(self.settings.safety_margin_seconds * 1000, self.remaining_ms() / 4)
        result = self._archive(request.source, should_stop=lambda: self.remaining_ms() <= margin_ms)
        # Overtaken by another run of the source (no reserved concurrency): not a failure, and no lag from
        # here, where the archive ended when this run began; the run that won reports the archive's
        lag = None if result.overtaken else lag_seconds(result)
        self.report(request.source, result.events, lag, result.gap)
        if result.overtaken:
            log.warning("binlog run of %s overtaken: %s", request.source, result.overtaken)
        log.info(
            "archived %d binlog events of %s",
            result.events,
            request.source,
            extra={"result": result.model_dump()},
        )
        return result

    def follow(
        self,
        request: BinlogFollowEvent,
        stop: Callable[[], bool],
        report_seconds: float = FOLLOW_REPORT_SECONDS,
    ) -> BinlogRunResult:
        """Archive as the server writes, until stop() (the task's SIGTERM); report every `report_seconds`."""
        reports = _FollowReports(self, request.source, report_seconds)
        result = self._archive(request.source, follow=True, should_stop=stop, progress=reports.progress)
        reports.finish(result)
        log.info("binlog follower of %s stopped", request.source, extra={"result": result.model_dump()})
        return result

    def _archive(self, name: str, **options: Any) -> BinlogRunResult:
        source = self.source_of(name)
        self.metrics.add_dimension(c.DIMENSION_SOURCE, name)
        with self.segment("archive binlog", source=name):
            db = source.with_tls(self.engine.read_secret(source.secret_arn, False))
            archived = self.engine.archive_binlog(db, self.engine.open_store(), name, **options)
        return BinlogRunResult(**archived.model_dump())

    def report(self, source: str, events: int, lag: float | None, gap: str | None) -> None:
        """The metrics of archived events and lag (when known); a gap is counted, published and logged."""
        self.metrics.add_metric(name=c.METRIC_BINLOG_EVENTS, unit=MetricUnit.Count, value=events)
        if lag is not None:
            self.metrics.add_metric(name=c.METRIC_BINLOG_LAG, unit=MetricUnit.Seconds, value=lag)
        if gap:
            self.metrics.add_metric(name=c.METRIC_BINLOG_GAPS, unit=MetricUnit.Count, value=1)
            self.publisher.binlog_gap(source, gap)
            log.error("binlog gap on %s: %s", source, gap)


@dataclass
class _FollowReports:
    """A follower's metrics while it runs (it returns only when stopped), and its gap once."""

    run: BinlogRun
    source: str
    every_seconds: float
    latest: ArchiveResult | BinlogRunResult | None = None
    caught_up: bool = False  # the latest word from the archive: it has all the server had
    reported_events: int = 0
    gap_reported: bool = False
    last: float = field(default_factory=time.monotonic)

    def progress(self, archived: ArchiveResult, caught_up: bool) -> None:
        self.latest, self.caught_up = archived, caught_up
        if time.monotonic() - self.last >= self.every_seconds:
            self._send()
            metrics = self.run.metrics
            metrics.flush_metrics()
            metrics.add_dimension(c.DIMENSION_SOURCE, self.source)  # a flush clears the dimensions

    def finish(self, result: BinlogRunResult) -> None:
        """The last report, from the follower's result (the task flushes it, as it does a run's)."""
        self.latest = result
        self._send()

    def _send(self) -> None:
        latest = self.latest
        assert latest is not None
        lag = 0.0 if self.caught_up else event_age(latest.newest_event_time)
        gap = None if self.gap_reported else latest.gap
        self.run.report(self.source, latest.events - self.reported_events, lag, gap)
        self.reported_events, self.gap_reported = latest.events, self.gap_reported or bool(gap)
        self.last = time.monotonic()


def lag_seconds(result: BinlogRunResult) -> float:
    """0 when the run read everything the server had; else how old the newest archived event is."""
    return 0.0 if result.reached_end else event_age(result.newest_event_time)


def event_age(newest_event_time: str | None) -> float:
    """Seconds since the newest archived event (infinite when nothing is archived)."""
    if newest_event_time is None:
        return float("inf")
    newest = datetime.fromisoformat(newest_event_time)
    return max(0.0, (datetime.now(UTC) - newest).total_seconds())
