"""cfn-lint finds no error in any synthesized template (warnings are CDK's redundant DependsOn)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cfnlint.api import lint

from tests.infra.conftest import VARIANTS, Synth

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_template_has_no_cfn_lint_errors(synth_variant: Callable[[str], Synth], variant: str) -> None:
    synth = synth_variant(variant)
    template = synth.outdir / f"{synth.stack.artifact_id}.template.json"
    matches = lint(template.read_text(), regions=["us-east-1", "eu-central-1"])
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_cfn_lint_does_report_an_error() -> None:
    bad = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}'
    matches = lint(bad, regions=["us-east-1"])
    assert any(m.rule.id.startswith("E") for m in matches)
