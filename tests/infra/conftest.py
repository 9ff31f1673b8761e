"""Synthesized templates, shared by the whole session (a synth takes seconds; the asset is cached).

Each variant synthesizes a real app with cdk-nag's AwsSolutions checks as a validation plugin; the
template, the validation report and the synth error (if any) are kept for the tests to look at.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.config import DeploymentConfig, load_config
from infra.stack import CloudBackupStack

REPO = Path(__file__).resolve().parents[2]
IMPORTED_KEY = "arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECOND_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cloudbackup/billing-db-Zz9Yx8"
RESTORE_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cloudbackup/billing-restore-Qq1Ww2"
TEST_CA = REPO / "tests" / "infra" / "test-ca.pem"  # a throw-away CA certificate (its key is not kept)
DRILL_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cloudbackup/drill-server-Dr1ll0"
DRILL = {"schedule": "cron(0 4 ? * SUN *)", "secret_arn": DRILL_SECRET, "window_days": 7}
NETWORK = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


def example_config() -> dict[str, Any]:
    """The commented example config that ships in cdk.json."""
    raw: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]["cloudbackup"]
    return raw


def full_config() -> dict[str, Any]:
    """Every option on: a second source in a VPC with its own restore secret and CA certificate and PITR,
    e-mail, archive tier, Object Lock, no prune."""
    raw = copy.deepcopy(example_config())
    raw["alarm_email"] = "oncall@example.com"
    raw["allow_prune"] = False
    raw["access_key_serial"] = 2
    raw["retention"].update(
        noncurrent_days=45,
        archive={"storage_class": "GLACIER_IR", "after_days": 60},
        object_lock={"mode": "COMPLIANCE", "days": 10},
    )
    raw["functions"].update(memory_mb=2048, timeout_seconds=600, log_retention_days=90, log_level="DEBUG")
    raw["sources"][0]["drill"] = DRILL
    raw["sources"].append(
        {
            "name": "billing-db",
            "secret_arn": SECOND_SECRET,
            "secret_kms_key_arn": IMPORTED_KEY,
            "restore_secret_arn": RESTORE_SECRET,
            "ssl_mode": "VERIFY_IDENTITY",
            "ssl_ca": str(TEST_CA),
            "databases": "*",
            "schedule": "rate(6 hours)",
            "restore_allow": ["billing_copy", "billing_*"],
            "backup_window_hours": 8,
            "network": NETWORK,
            "pitr": True,
            "binlog_interval_minutes": 4,
        }
    )
    return raw


def imported_key_config() -> dict[str, Any]:
    raw = copy.deepcopy(example_config())
    raw["kms_key_arn"] = IMPORTED_KEY
    return raw


FARGATE_SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:cloudbackup/warehouse-db-Qq1Ww2"


def fargate_config() -> dict[str, Any]:
    """The example plus a source too big for Lambda: its backups and restores run as Fargate tasks."""
    raw = copy.deepcopy(example_config())
    raw["sources"].append(
        {
            "name": "warehouse-db",
            "secret_arn": FARGATE_SECRET,
            "databases": ["warehouse"],
            "schedule": "cron(0 1 * * ? *)",
            "restore_allow": ["warehouse_copy*"],
            "network": NETWORK,
            "runner": "fargate",
            "task": {"cpu": 2048, "memory_mib": 8192},
            "drill": {"schedule": "cron(0 5 ? * SAT *)", "window_days": 7},
        }
    )
    return raw


def fargate_pitr_config() -> dict[str, Any]:
    """The fargate source with point-in-time recovery: its binary log followed by an ECS service."""
    raw = fargate_config()
    raw["sources"][1].update(pitr=True, binlog_interval_minutes=3)
    return raw


VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "example": example_config,
    "full": full_config,
    "imported_key": imported_key_config,
    "fargate": fargate_config,
    "fargate_pitr": fargate_pitr_config,
}


@dataclass
class Synth:
    config: DeploymentConfig
    stack: CloudBackupStack
    template: Template
    outdir: Path
    error: str | None

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.template.to_json()
        return data

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


def synthesize(
    raw: dict[str, Any], outdir: Path, *, add: Callable[[cdk.Stack], object] | None = None
) -> Synth:
    """Synthesize with the AwsSolutions checks; `add` puts more into the stack first (negative tests)."""
    config = load_config(raw)
    # Tests read templates only: reference the cached asset in place instead of copying 70 MB per synth.
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:disable-asset-staging": True})
    stack = CloudBackupStack(app, "CloudBackupTest", config=config)
    if add is not None:
        add(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # the validation plugin reports findings by failing the synth
        error = str(exc)
    template = Template.from_json(json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()))
    return Synth(config=config, stack=stack, template=template, outdir=outdir, error=error)


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synth]:
    """`synth_variant("full")` -> that variant's synthesized app, built once per session."""
    done: dict[str, Synth] = {}

    def get(name: str) -> Synth:
        if name not in done:
            done[name] = synthesize(VARIANTS[name](), tmp_path_factory.mktemp(f"cdk-{name}"))
        return done[name]

    return get


@pytest.fixture(scope="session")
def example(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("example")


@pytest.fixture(scope="session")
def full(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("full")


def function_of(synth: Synth, source: str, handler: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of a source's function with this handler."""
    found = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == handler
        and source in json.loads(v["Properties"]["Environment"]["Variables"]["CLOUDBACKUP_SOURCES"])
    ]
    assert len(found) == 1, found
    return found[0]


def role_statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline and managed policies attached to a role."""
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    role = synth.json["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role, "function roles carry no managed policies"
    for inline in role.get("Policies", []):
        statements += inline["PolicyDocument"]["Statement"]
    return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found
