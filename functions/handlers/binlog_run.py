"""A binlog run: archive the source's new binlog events within the invocation's time budget.

A run stopped by the budget has committed what it read (the next run resumes there); a gap (events
purged before they were archived) is published as a `Binlog Gap` event and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from handlers import constants as c
from handlers.engine import Engine
from handlers.events import EventPublisher
from handlers.models import BinlogEvent, BinlogRunResult, InvalidEvent
from handlers.settings import Settings, UnknownSource

log = logging.getLogger(__name__)

Segment = Callable[..., AbstractContextManager[None]]


@dataclass
class BinlogRun:
    settings: Settings
    engine: Engine
    publisher: EventPublisher
    metrics: Metrics
    segment: Segment
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis

    def run(self, request: BinlogEvent) -> BinlogRunResult:
        try:
            source = self.settings.source(request.source)
        except UnknownSource as exc:
            raise InvalidEvent(f"invalid event: {exc}") from None
        self.metrics.add_dimension(c.DIMENSION_SOURCE, request.source)
        # A short invocation (a one-minute interval) keeps three quarters of itself for the archive.
        margin_ms = min(self.settings.safety_margin_seconds * 1000, self.remaining_ms() / 4)
        with self.segment("archive binlog", source=request.source):
            db = source.with_tls(self.engine.read_secret(source.secret_arn, False))
            archived = self.engine.archive_binlog(
                db,
                self.engine.open_store(),
                request.source,
                should_stop=lambda: self.remaining_ms() <= margin_ms,
            )
        result = BinlogRunResult(**archived.model_dump())
        self.metrics.add_metric(name=c.METRIC_BINLOG_EVENTS, unit=MetricUnit.Count, value=result.events)
        self.metrics.add_metric(name=c.METRIC_BINLOG_LAG, unit=MetricUnit.Seconds, value=lag_seconds(result))
        if result.gap:
            self.metrics.add_metric(name=c.METRIC_BINLOG_GAPS, unit=MetricUnit.Count, value=1)
            self.publisher.binlog_gap(request.source, result.gap)
            log.error("binlog gap on %s: %s", request.source, result.gap)
        log.info(
            "archived %d binlog events of %s",
            result.events,
            request.source,
            extra={"result": result.model_dump()},
        )
        return result


def lag_seconds(result: BinlogRunResult) -> float:
    """0 when the run read everything the server had; else how old the newest archived event is."""
    if result.reached_end:
        return 0.0
    if result.newest_event_time is None:
        return float("inf")
    newest = datetime.fromisoformat(result.newest_event_time)
    return max(0.0, (datetime.now(UTC) - newest).total_seconds())
