"""What the restore function and the Fargate restore task both do with their event: a restore drill
when it carries `drill`, a restore otherwise, each handed to its run."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Metrics
from pydantic import BaseModel

from handlers.drill_run import DrillRun
from handlers.engine import Engine
from handlers.events import EventPublisher
from handlers.models import DrillEvent, parse_restore_event
from handlers.restore_run import RestoreRun, Segment
from handlers.settings import Settings


def run_restore_or_drill(
    event: object,
    *,
    settings: Settings,
    engine: Engine,
    publisher: EventPublisher,
    metrics: Metrics,
    segment: Segment,
    remaining_ms: Callable[[], int],
) -> BaseModel:
    """The event's run and its summary; a bad event raises InvalidEvent with one line."""
    request = parse_restore_event(event)
    if isinstance(request, DrillEvent):
        drill = DrillRun(
            settings=settings,
            engine=engine,
            publisher=publisher,
            metrics=metrics,
            segment=segment,
            remaining_ms=remaining_ms,
        )
        return drill.run(request)
    run = RestoreRun(
        settings=settings, engine=engine, metrics=metrics, segment=segment, remaining_ms=remaining_ms
    )
    return run.run(request)
