"""cdk-nag AwsSolutions: no unacknowledged finding, every acknowledgement with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_sqs as sqs

from tests.infra.conftest import VARIANTS, Synth, example_config, synthesize

pytestmark = pytest.mark.infra


def violations(synth: Synth) -> list[str]:
    report = synth.validation_report()
    return [
        f"{v['ruleName']} at {[c['constructPath'] for c in v['violatingConstructs']]}"
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
    ]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_unacknowledged_findings(synth_variant: Callable[[str], Synth], variant: str) -> None:
    synth = synth_variant(variant)
    assert violations(synth) == []
    assert synth.error is None


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_acknowledgement_has_a_specific_reason(
    synth_variant: Callable[[str], Synth], variant: str
) -> None:
    synth = synth_variant(variant)
    acknowledged: dict[str, str] = {}
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.update({f"{construct.node.path} {k}": v for k, v in entry.data.items()})
    assert acknowledged, "the stack acknowledges the findings it accepts"
    for where, reason in acknowledged.items():
        assert "AwsSolutions-" in where
        assert len(reason) > 60, (where, reason)


def test_the_checks_do_report_a_finding(tmp_path: Path) -> None:
    # Given the stack plus one unacknowledged problem: an unencrypted queue
    def bad_queue(stack: Stack) -> object:
        return sqs.Queue(stack, "Unencrypted", encryption=sqs.QueueEncryption.UNENCRYPTED, enforce_ssl=True)

    # When synthesized with the checks
    synth = synthesize(example_config(), tmp_path, add=bad_queue)
    # Then the synth fails and the report names the finding
    assert synth.error is not None
    found = violations(synth)
    assert any("AwsSolutions-SQS" in v and "Unencrypted" in v for v in found), found
