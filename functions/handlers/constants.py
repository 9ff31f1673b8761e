"""Names the infrastructure shares with the functions: environment variables, metrics, events.

Kept free of imports so the CDK app can read them without loading Lambda code. The alarms and rules the
infrastructure builds must match these names exactly.
"""

from __future__ import annotations

# Environment variables the functions read at cold start (see handlers.settings).
ENV_BUCKET = "CLOUDBACKUP_BUCKET"  # bucket name
ENV_PREFIX = "CLOUDBACKUP_PREFIX"  # key prefix inside the bucket ("" for none)
ENV_KMS_KEY_ID = "CLOUDBACKUP_KMS_KEY_ID"  # SSE-KMS key id/ARN for new objects ("" = bucket default)
ENV_EVENT_BUS = "CLOUDBACKUP_EVENT_BUS"  # EventBridge bus name or ARN for result events
ENV_SOURCES = "CLOUDBACKUP_SOURCES"  # JSON object: source name -> SourceConfig (handlers.settings)
ENV_SAFETY_MARGIN = "CLOUDBACKUP_SAFETY_MARGIN_SECONDS"  # stop a dump this long before the timeout
ENV_COMPRESSION = "CLOUDBACKUP_COMPRESSION"  # zstd | gzip | none
ENV_SECRET_MAX_AGE = "CLOUDBACKUP_SECRET_MAX_AGE_SECONDS"  # noqa: S105 - a variable name, not a secret
ENV_REGION = "AWS_REGION"  # set by the Lambda runtime (and by ECS for a Fargate task)
ENV_TASK_EVENT = "CLOUDBACKUP_EVENT"  # a Fargate task's event (JSON): what the function would be invoked with
ENV_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"

# The deployment config's CA files (`ssl_ca`) are shipped in the asset as ASSET_CA_DIR/<source>.pem; a
# relative `ssl_ca` (in CLOUDBACKUP_SOURCES or the database secret) names a file inside the asset.
ASSET_CA_DIR = "ca"

DEFAULT_SERVICE = "cloudbackup"
DEFAULT_NAMESPACE = "CloudBackup"

# Metrics (CloudWatch EMF via Powertools). Every metric carries the dimensions `service` (the
# POWERTOOLS_SERVICE_NAME value) and `source` (the event's source): an alarm must name both.
DIMENSION_SOURCE = "source"
METRIC_BACKUP_SUCCEEDED = "BackupSucceeded"  # Count, 1 per complete backup: the "missing backup" alarm
METRIC_BACKUP_FAILURES = "BackupFailures"  # Count, 1 per database not backed up
METRIC_BACKUP_BYTES = "BackupBytes"  # Bytes of the stored data object
METRIC_BACKUP_ROWS = "BackupRows"  # Count of rows dumped
METRIC_BACKUP_DURATION = "BackupDuration"  # Seconds per database
METRIC_RESTORE_SUCCEEDED = "RestoreSucceeded"
METRIC_RESTORE_FAILURES = "RestoreFailures"
METRIC_RESTORE_DURATION = "RestoreDuration"
METRIC_BINLOG_EVENTS = "BinlogEventsArchived"  # Count of binlog events stored by one run
# Seconds the archive is behind: 0 when a run read to the server's end, else the newest archived event's
# age. The "archiving falls behind or breaks" alarm watches it (a missing value counts as breaking).
METRIC_BINLOG_LAG = "BinlogArchiveLag"
METRIC_BINLOG_GAPS = "BinlogGaps"  # Count, 1 when a run found events lost before they were archived
METRIC_DRILL_SUCCEEDED = "DrillSucceeded"  # Count, 1 per proven drill: the "no successful drill" alarm
METRIC_DRILL_FAILURES = "DrillFailures"  # Count, 1 per drill that did not restore or did not prove
METRIC_DRILL_DURATION = "DrillDuration"  # Seconds, the whole drill (restore, proof, drop)
METRIC_DRILL_RESTORE_SECONDS = "DrillRestoreSeconds"  # Seconds the restore took: the recovery-time figure

# Result events on EventBridge.
EVENT_SOURCE = "cloudbackup"
EVENT_BACKUP_SUCCEEDED = "Backup Succeeded"
EVENT_BACKUP_FAILED = "Backup Failed"
EVENT_BINLOG_GAP = "Binlog Gap"
EVENT_DRILL_SUCCEEDED = "Restore Drill Succeeded"
EVENT_DRILL_FAILED = "Restore Drill Failed"
