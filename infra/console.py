"""Ready-made restore events in the Lambda console (shareable test events).

The console keeps shareable test events as examples in an EventBridge schema named
`_<function name>-schema` in the registry `lambda-testevent-schemas`. The registry exists only once
someone saved a shareable event in the region, so it is created if missing (and left in place on
stack deletion: other functions' events may live there).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from aws_cdk import Fn, Stack
from aws_cdk import aws_eventschemas as eventschemas
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import Source

REGISTRY = "lambda-testevent-schemas"
_GLOB = re.compile(r"[*?]|\[[^]]*\]")
EXAMPLE_TIME = "2026-12-03T14:02:00Z"

# The shape the restore handler accepts (handlers.models.RestoreEvent, or DrillEvent with `drill`),
# for the console's editor.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source", "database"],
    "properties": {
        "source": {"type": "string"},
        "database": {"type": "string"},
        "backup": {"type": "string", "description": "latest, or a backup id"},
        "target_database": {"type": "string"},
        "in_place": {"type": "boolean"},
        "tables": {"type": "array", "items": {"type": "string"}},
        "dry_run": {"type": "boolean"},
        "to_time": {
            "type": "string",
            "format": "date-time",
            "description": "point in time (ISO 8601, Z or an offset): needs pitr on the source",
        },
        "drill": {"type": "boolean", "description": "true: a restore drill into a scratch database"},
    },
}


def _one_character(glob: str) -> str:
    """A name character `glob` (`?` or a `[...]` set) matches; `*` matches nothing at all."""
    if glob == "*":
        return ""
    candidates = "1a_x0" + ("" if glob == "?" or glob.startswith("[!") else glob[1])
    return next((ch for ch in candidates if fnmatch.fnmatchcase(ch, glob)), "")


def example_target(source: Source, database: str) -> str:
    """A restore target the source's allow-list accepts (the first pattern made concrete): the restore
    function matches the target with fnmatch, so each `?` and `[...]` becomes a character it accepts."""
    for pattern in source.restore_allow:
        target = _GLOB.sub(lambda glob: _one_character(glob.group(0)), pattern)
        if target and target != database and fnmatch.fnmatchcase(target, pattern):
            return target
    return f"{database}_restored"


def restore_examples(source: Source) -> dict[str, dict[str, Any]]:
    database = source.databases[0] if isinstance(source.databases, list) else "DATABASE"
    latest = {
        "source": source.name,
        "database": database,
        "backup": "latest",
        "target_database": example_target(source, database),
    }
    examples: dict[str, dict[str, Any]] = {
        "restore-latest-to-new-database": {"value": latest},
        "dry-run-latest": {"value": {**latest, "dry_run": True}},
    }
    if source.pitr:  # edit the time: the database as it was then, from the archived binary log
        examples["restore-to-time"] = {"value": {**latest, "to_time": EXAMPLE_TIME}}
    if source.drill:
        examples["drill-latest"] = {"value": {"source": source.name, "database": database, "drill": True}}
    return examples


def schema_content(source: Source) -> str:
    return json.dumps(
        {
            "openapi": "3.0.0",
            "info": {"version": "1.0.0", "title": "Event"},
            "paths": {},
            "components": {"schemas": {"Event": _EVENT_SCHEMA}, "examples": restore_examples(source)},
        }
    )


class ConsoleTestEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        registry_arn = Stack.of(self).format_arn(
            service="schemas", resource="registry", resource_name=REGISTRY
        )
        self._registry = cr.AwsCustomResource(
            self,
            "Registry",
            on_create=cr.AwsSdkCall(
                service="Schemas",
                action="createRegistry",
                parameters={"RegistryName": REGISTRY, "Description": "Lambda console shareable test events"},
                physical_resource_id=cr.PhysicalResourceId.of(REGISTRY),
                ignore_error_codes_matching="ConflictException",  # it already exists: fine
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["schemas:CreateRegistry"], resources=[registry_arn])]
            ),
            install_latest_aws_sdk=False,
        )

    def add_restore_events(self, source: Source, restore: lambda_.IFunction) -> eventschemas.CfnSchema:
        schema = eventschemas.CfnSchema(
            self,
            f"{source.name}-restore-events",
            registry_name=REGISTRY,
            schema_name=Fn.join("", ["_", restore.function_name, "-schema"]),
            type="OpenApi3",
            content=schema_content(source),
            description=f"cloudbackup: restore test events for {source.name}",
        )
        schema.node.add_dependency(self._registry)
        return schema
