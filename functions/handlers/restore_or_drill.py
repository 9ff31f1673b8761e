"""What the restore function and the Fargate restore task both do with their event: a restore drill
when it carries `drill`, a restore otherwise, each handed to its run."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from handlers.drill_run import DrillRun
from handlers.models import DrillEvent, parse_restore_event
from handlers.restore_run import RestoreRun
from handlers.runtime import Runtime


def run_restore_or_drill(event: object, runtime: Runtime, remaining_ms: Callable[[], int]) -> BaseModel:
    """The event's run and its summary; a bad event raises InvalidEvent with one line."""
    request = parse_restore_event(event)
    if isinstance(request, DrillEvent):
        return DrillRun.of(runtime, remaining_ms).run(request)
    return RestoreRun.of(runtime, remaining_ms).run(request)
