"""Shareable restore test events in the Lambda console (EventBridge schema registry)."""

from __future__ import annotations

import copy
import json

import pytest

from handlers.models import DrillEvent, RestoreEvent, parse_event, parse_restore_event
from handlers.settings import SourceConfig
from infra.config import load_config
from infra.console import REGISTRY, restore_examples
from infra.functions import RESTORE_HANDLER
from tests.infra.conftest import Synth, example_config, function_of

pytestmark = pytest.mark.infra


def test_each_restore_function_gets_its_schema_named_as_the_console_expects(full: Synth) -> None:
    schemas = full.resources("AWS::EventSchemas::Schema")
    assert len(schemas) == len(full.config.sources)
    for source in full.config.sources:
        function_id, _ = function_of(full, source.name, RESTORE_HANDLER)
        [schema] = [
            s["Properties"]
            for s in schemas.values()
            if s["Properties"]["SchemaName"] == {"Fn::Join": ["", ["_", {"Ref": function_id}, "-schema"]]}
        ]
        assert schema["RegistryName"] == REGISTRY == "lambda-testevent-schemas"
        assert schema["Type"] == "OpenApi3"


def test_examples_are_valid_restore_events_the_allow_list_accepts(full: Synth) -> None:
    for source in full.config.sources:
        function_id, _ = function_of(full, source.name, RESTORE_HANDLER)
        [content] = [
            json.loads(s["Properties"]["Content"])
            for s in full.resources("AWS::EventSchemas::Schema").values()
            if {"Ref": function_id} in s["Properties"]["SchemaName"]["Fn::Join"][1]
        ]
        examples = content["components"]["examples"]
        drill = examples.pop("drill-latest", None)
        expected = {"restore-latest-to-new-database", "dry-run-latest"} | (
            {"restore-to-time"} if source.pitr else set()
        )
        assert set(examples) == expected
        assert (drill is not None) is (source.drill is not None)
        allow = SourceConfig(secret_arn=source.secret_arn, restore_allow=source.restore_allow)
        for name, example in examples.items():
            event = parse_event(RestoreEvent, example["value"])
            assert event.source == source.name
            assert event.backup == "latest"
            assert event.dry_run is (name == "dry-run-latest")
            assert allow.allows_restore_into(event.target)
            assert (event.to_time is not None) is (name == "restore-to-time")


def test_registry_is_created_if_missing_and_schemas_wait_for_it(example: Synth) -> None:
    [(registry_id, registry)] = [
        (k, r)
        for k, r in example.resources("Custom::AWS").items()
        if "createRegistry" in json.dumps(r["Properties"])
    ]
    call = json.loads(registry["Properties"]["Create"])
    assert call["parameters"]["RegistryName"] == REGISTRY
    assert call["ignoreErrorCodesMatching"] == "ConflictException"
    assert "Delete" not in registry["Properties"]  # other functions' events may live there
    for schema in example.resources("AWS::EventSchemas::Schema").values():
        assert registry_id in schema["DependsOn"]


def test_a_source_with_a_drill_gets_a_drill_latest_event(full: Synth) -> None:
    [source] = [s for s in full.config.sources if s.drill]
    function_id, _ = function_of(full, source.name, RESTORE_HANDLER)
    [content] = [
        json.loads(s["Properties"]["Content"])
        for s in full.resources("AWS::EventSchemas::Schema").values()
        if {"Ref": function_id} in s["Properties"]["SchemaName"]["Fn::Join"][1]
    ]
    event = parse_restore_event(content["components"]["examples"]["drill-latest"]["value"])
    assert isinstance(event, DrillEvent)
    assert (event.source, event.backup) == (source.name, "latest")
    assert event.database in source.databases


@pytest.mark.parametrize("pattern", ["shop_copy_?", "shop_[0-9]", "shop_[!a-z]_copy", "copy?_*_shop"])
def test_the_example_target_is_one_the_allow_list_accepts_whatever_its_globs(pattern: str) -> None:
    # Given a source whose only restore target pattern has `?` or `[...]` in it
    raw = copy.deepcopy(example_config())
    raw["sources"][0]["restore_allow"] = [pattern]
    source = load_config(raw).sources[0]
    # When its console examples are made
    examples = restore_examples(source)
    # Then the ready-made restore goes where the restore function lets it
    allow = SourceConfig(secret_arn=source.secret_arn, restore_allow=source.restore_allow)
    for name in ("restore-latest-to-new-database", "dry-run-latest"):
        target = examples[name]["value"]["target_database"]
        assert allow.allows_restore_into(target), (pattern, target)
