"""Lambda entry point `handlers.restore.handler`: an on-demand restore, e.g. from a console test event,
or a restore drill, e.g. from its schedule.

Event: `{"source": "orders-db", "database": "shop", "backup": "latest", "target_database": "shop_restored"}`
or `"in_place": true`; optional `"tables": [...]` and `"dry_run": true`. A drill:
`{"source": "orders-db", "database": "shop", "drill": true}`. Returns a JSON summary.
"""

from __future__ import annotations

from typing import Any

from handlers.drill_run import DrillRun
from handlers.engine import engine_for
from handlers.events import EventPublisher
from handlers.models import DrillEvent, parse_restore_event
from handlers.observability import Observability
from handlers.restore_run import RestoreRun
from handlers.settings import load_settings

settings = load_settings()  # at cold start: a deployment mistake stops here with one clear line
observability = Observability(settings)
logger = observability.logger
publisher = EventPublisher(settings.event_bus, settings.region)
engine = engine_for(settings)


@observability.handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_restore_event(event)
    if isinstance(request, DrillEvent):
        drill = DrillRun(
            settings=settings,
            engine=engine,
            publisher=publisher,
            metrics=observability.metrics,
            segment=observability.segment,
        )
        return drill.run(request).model_dump(mode="json")
    run = RestoreRun(
        settings=settings, engine=engine, metrics=observability.metrics, segment=observability.segment
    )
    return run.run(request).model_dump(mode="json")
