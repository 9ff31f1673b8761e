"""What every run (backup, restore, drill, binlog archive) is made of, set up in one place.

A function builds its Runtime once, at cold start (a deployment mistake stops there with one clear line),
and each invocation a run from it with the Lambda context's clock; the Fargate task (handlers/task.py)
builds the same, with a clock that never runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Self

from aws_lambda_powertools import Metrics

from handlers.engine import Engine, engine_for
from handlers.events import EventPublisher
from handlers.models import InvalidEvent
from handlers.observability import Observability
from handlers.settings import Settings, SourceConfig, UnknownSource, load_settings

Segment = Callable[..., AbstractContextManager[None]]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    observability: Observability
    engine: Engine
    publisher: EventPublisher

    @classmethod
    def start(cls, settings: Settings | None = None) -> Runtime:
        """From `settings`, or from the environment's (raises SettingsError naming the bad field)."""
        settings = settings or load_settings()
        return cls(
            settings=settings,
            observability=Observability(settings),
            engine=engine_for(settings),
            publisher=EventPublisher(settings.event_bus, settings.region),
        )


@dataclass
class Run:
    """One invocation's run: the runtime's parts, and the time the invocation has left."""

    settings: Settings
    engine: Engine
    publisher: EventPublisher
    metrics: Metrics
    segment: Segment
    remaining_ms: Callable[[], int]  # the Lambda context's get_remaining_time_in_millis

    @classmethod
    def of(cls, runtime: Runtime, remaining_ms: Callable[[], int]) -> Self:
        return cls(
            settings=runtime.settings,
            engine=runtime.engine,
            publisher=runtime.publisher,
            metrics=runtime.observability.metrics,
            segment=runtime.observability.segment,
            remaining_ms=remaining_ms,
        )

    def source_of(self, name: str) -> SourceConfig:
        """The event's source; one the deployment does not configure makes the event invalid."""
        try:
            return self.settings.source(name)
        except UnknownSource as exc:
            raise InvalidEvent(f"invalid event: {exc}") from None
