"""The stack is a reusable unit: two deployments side by side in another app, with a fixed environment."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Template

from infra.config import load_config
from infra.stack import CloudBackupStack
from tests.infra.conftest import example_config

pytestmark = pytest.mark.infra


def test_two_deployments_in_one_app_with_their_own_region() -> None:
    # Given another CDK app holding two cloudbackup stacks in different regions
    app = App(context={"aws:cdk:disable-asset-staging": True})
    config = load_config(example_config())
    stacks = {
        region: CloudBackupStack(
            app, f"Backups-{region}", config=config, env=Environment(account="123456789012", region=region)
        )
        for region in ("eu-central-1", "us-west-2")
    }
    # When each is synthesized
    for region, stack in stacks.items():
        template = Template.from_stack(stack).to_json()
        # Then each is complete, and its key is usable through its own region's S3 only
        [policy] = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
        [key_statement] = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "BackupKey"
        ]
        assert key_statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}
        }
        assert template["Outputs"]["CredentialsCommand"]["Value"].startswith(
            f"cloudbackup credentials --stack Backups-{region} "
        )
