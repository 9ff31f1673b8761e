"""The restore test events the stack puts in the Lambda console are events the restore function accepts:
they parse into RestoreEvent and their targets pass the source's allow-list, as deployed."""

from __future__ import annotations

import json

import pytest

from handlers.models import RestoreEvent, parse_event
from handlers.settings import SourceConfig
from infra.config import Source
from infra.console import restore_examples
from infra.functions import source_settings

SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cloudbackup/orders-db-AbCdEf"


@pytest.mark.parametrize(
    ("databases", "restore_allow"),
    [
        (["shop"], ["shop_restored*"]),
        (["shop", "hr"], ["restores_*", "shop"]),
        ("*", ["scratch"]),
        (["shop"], []),
    ],
)
def test_console_restore_examples_are_accepted_by_the_restore_function(
    databases: list[str] | str, restore_allow: list[str]
) -> None:
    source = Source(
        name="orders-db",
        secret_arn=SECRET,
        databases=databases,
        schedule="rate(1 day)",
        restore_allow=restore_allow,
    )
    # The function's view of the source is what the stack writes into CLOUDBACKUP_SOURCES.
    configured = SourceConfig.model_validate(json.loads(source_settings(source))["orders-db"])
    for name, example in restore_examples(source).items():
        event = parse_event(RestoreEvent, example["value"])
        assert event.source == source.name, name
        if restore_allow:
            assert configured.allows_restore_into(event.target), f"{name}: {event.target} is refused"
