"""A CloudTrail trail of the backup bucket's write data events, so a refused overwrite can raise an alarm.

S3's own EventBridge events only describe writes that succeeded, and an `Object Created` event does not
say whether the key existed. The attempts that matter are the refused ones: a write without
`If-None-Match` (denied by the bucket policy) or with it on an existing key (412). CloudTrail data events
record those with their error code, and EventBridge receives them (monitoring.py alarms on them).

Write events only (reads are many and tell nothing here), this region only, into the access-log bucket
under `cloudtrail/` (its lifecycle expires them with the access logs). Data events cost $0.10 per
100,000 (a backup writes a handful), and an account holds at most five trails per region: the config
switch `audit_writes` turns the trail (and its alarm) off.
"""

from __future__ import annotations

from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_s3 as s3
from constructs import Construct

TRAIL_PREFIX = "cloudtrail"


class WriteAudit(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, log_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=log_bucket,
            s3_key_prefix=TRAIL_PREFIX,
            is_multi_region_trail=False,
            include_global_service_events=False,
            management_events=cloudtrail.ReadWriteType.NONE,
            enable_file_validation=True,
        )
        self.trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=bucket)],
            read_write_type=cloudtrail.ReadWriteType.WRITE_ONLY,
            include_management_events=False,
        )
