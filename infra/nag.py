"""cdk-nag AwsSolutions findings this design accepts, each acknowledged where it arises, with its reason.

cdk-nag v3 reads CDK's own acknowledgements (`Validations.of(construct).acknowledge`), so the stack
itself does not depend on cdk-nag; the infra tests run the checks.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

# CDK's singleton function behind every AwsCustomResource (first backup, test-event registry).
CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def objects_under(stack: Stack, bucket: s3.IBucket, prefix: str) -> str:
    """The IAM5 finding id of `bucket/prefix/*` (names the bucket by its logical id)."""
    resource = bucket.node.default_child
    assert isinstance(resource, CfnResource)
    return f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(resource)}.Arn>/{prefix}/*]"


def acknowledge_prefix_scope(construct: IConstruct, bucket: s3.IBucket, prefix: str) -> None:
    acknowledge(
        construct,
        objects_under(Stack.of(construct), bucket, prefix),
        "Backup objects get generated keys (source/database/date/id); access is limited to the objects under "
        "this prefix, the narrowest scope that still lets new backups be written and read.",
    )


def acknowledge_function_role(role: iam.IRole) -> None:
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only actions without resource-level permissions use '*': X-Ray PutTraceSegments and "
        "PutTelemetryRecords (active tracing) and, with a VPC, the network-interface actions Lambda needs.",
    )


def acknowledge_stack_findings(stack: Stack) -> None:
    provider = stack.node.try_find_child(CUSTOM_RESOURCE_PROVIDER)
    if provider is not None:
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider (first backup, test-event registry) only writes its own logs; "
            "its SDK calls are allowed by separate, scoped statements.",
        )


def acknowledge_runtime(function: IConstruct) -> None:
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Python 3.12 on purpose: the asset's compiled wheels are bundled for CPython 3.12 "
        "(infra/bundling.py), a supported Lambda runtime; a newer one is a tested change of both.",
    )


def acknowledge_scheduler_role(schedule_role: IConstruct, function_logical_id: str) -> None:
    acknowledge(
        schedule_role,
        f"AwsSolutions-IAM5[Resource::<{function_logical_id}.Arn>:*]",
        "CDK's Scheduler target role may invoke the function it schedules (backup, or restore for drills) "
        "and its versions; nothing else.",
    )


def acknowledge_secret_rotation(secret: IConstruct) -> None:
    acknowledge(
        secret,
        "AwsSolutions-SMG4",
        "The secret holds an IAM access key, which Secrets Manager cannot rotate by itself; it is rotated by "
        "raising access_key_serial in the config, which replaces the key and updates this secret.",
    )


def acknowledge_dead_letter_queue(queue: IConstruct) -> None:
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the backup schedules and of failed async invocations.",
    )
