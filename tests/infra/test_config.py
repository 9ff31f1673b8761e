"""The deployment config: the shipped example validates; bad configs fail naming the field."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from infra.config import ConfigError, load_config
from tests.infra.conftest import REPO, RESTORE_SECRET, TEST_CA, example_config, full_config

pytestmark = pytest.mark.infra


def with_change(path: str, value: Any) -> dict[str, Any]:
    """The example config with one field (dotted path, list indexes as numbers) set to `value`."""
    raw = copy.deepcopy(example_config())
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = raw
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


def error_of(raw: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    return str(caught.value)


def test_shipped_example_has_one_source_and_comments_are_ignored() -> None:
    raw = example_config()
    assert "_comment" in raw
    config = load_config(raw)
    assert [s.name for s in config.sources] == ["orders-db"]
    assert load_config(full_config()).sources[1].network is not None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("sources.0.schedule", "every day", 'config.sources[0].schedule: expected "cron(MIN HOUR'),
        ("sources.0.schedule", "cron(0 3 * * ?)", "config.sources[0].schedule: expected"),
        ("sources.0.schedule", "rate(0 hours)", "config.sources[0].schedule: expected"),
        # What Scheduler refuses at deploy time: one of day-of-month and day-of-week must be `?`, and a
        # rate's unit agrees in number with its value
        ("sources.0.schedule", "cron(0 3 * * * *)", "config.sources[0].schedule: expected"),
        ("sources.0.schedule", "cron(0 3 ? * ? *)", "config.sources[0].schedule: expected"),
        ("sources.0.schedule", "rate(1 hours)", "config.sources[0].schedule: expected"),
        ("sources.0.schedule", "rate(6 hour)", "config.sources[0].schedule: expected"),
        (
            "sources.0.drill",
            {"schedule": "cron(0 4 * * SUN *)"},
            "config.sources[0].drill.schedule: expected",
        ),
        # Fields in range, as Scheduler checks them at deploy time
        (
            "sources.0.schedule",
            "cron(99 2 * * ? *)",
            "config.sources[0].schedule: minute '99' is outside 0..59",
        ),
        (
            "sources.0.schedule",
            "cron(0 24 * * ? *)",
            "config.sources[0].schedule: hour '24' is outside 0..23",
        ),
        ("sources.0.schedule", "cron(0 3 * DAILY ? *)", "config.sources[0].schedule: month 'DAILY' is not"),
        ("sources.0.schedule", "cron(0/0 3 * * ? *)", "config.sources[0].schedule: minute step '0' is not"),
        (
            "sources.0.drill",
            {"schedule": "cron(0 4 ? * SUNDAY *)"},
            "config.sources[0].drill.schedule: day-of-week 'SUNDAY' is not",
        ),
        # A schedule that never runs again deploys, and never backs up
        ("sources.0.schedule", "cron(0 2 * * ? 2020)", "config.sources[0].schedule: runs fewer than twice"),
        # The missing-backup alarm needs a backup in every window: runs further apart keep it firing
        (
            "sources.0.backup_window_hours",
            8,
            "config.sources[0].backup_window_hours: backup_window_hours 8 is shorter than the longest time "
            "between two scheduled runs (25 hours of cron(15 2 * * ? *))",
        ),
        (
            "sources.0.schedule",
            "cron(0 2 ? * MON-FRI *)",
            "config.sources[0].backup_window_hours: backup_window_hours 26 is shorter than the longest time "
            "between two scheduled runs (73 hours of cron(0 2 ? * MON-FRI *))",
        ),
        # JSON's types as written: a string or a number where a boolean or an integer belongs is a typo
        # ("pitr": "false" would otherwise deploy nothing, or pitr where none was meant)
        ("sources.0.pitr", "yes", "config.sources[0].pitr: Input should be a valid boolean"),
        ("sources.0.pitr", "false", "config.sources[0].pitr: Input should be a valid boolean"),
        ("sources.0.pitr", 1, "config.sources[0].pitr: Input should be a valid boolean"),
        ("allow_prune", "false", "config.allow_prune: Input should be a valid boolean"),
        (
            "binlog_reserved_concurrency",
            "no",
            "config.binlog_reserved_concurrency: Input should be a valid boolean",
        ),
        (
            "binlog_reserved_concurrency",
            0,
            "config.binlog_reserved_concurrency: Input should be a valid boolean",
        ),
        (
            "sources.0.binlog_interval_minutes",
            "5",
            "config.sources[0].binlog_interval_minutes: Input should be a valid integer",
        ),
        (
            "sources.0.binlog_interval_minutes",
            5.0,
            "config.sources[0].binlog_interval_minutes: Input should be a valid integer",
        ),
        (
            "retention.object_lock.enabled",
            0,
            "config.retention.object_lock.enabled: Input should be a valid boolean",
        ),
        ("functions.memory_mb", "2048", "config.functions.memory_mb: Input should be a valid integer"),
        (
            "retention.noncurrent_days",
            7.5,
            "config.retention.noncurrent_days: Input should be a valid integer",
        ),
        (
            "sources.0.backup_window_hours",
            True,
            "config.sources[0].backup_window_hours: Input should be a valid",
        ),
        (
            "sources.0.time_zone",
            "Mars/Olympus",
            "config.sources[0].time_zone: unknown IANA time zone 'Mars/Olympus'",
        ),
        ("sources.0.secret_arn", "orders-db", "config.sources[0].secret_arn: String should match pattern"),
        ("sources.0.name", "Orders DB", "config.sources[0].name: String should match pattern"),
        ("sources.0.databases", [], "config.sources[0].databases: Value error, list at least one database"),
        (
            "sources.0.databases",
            "all",
            "config.sources[0].databases: Input should be a valid list or Input should be '*'",
        ),
        (
            "sources.0.backup_window_hours",
            200,
            "config.sources[0].backup_window_hours: Input should be less than",
        ),
        (
            "sources.0.network",
            {
                "vpc_id": "vpc-1",
                "subnet_ids": ["subnet-0123456789abcdef0"],
                "security_group_ids": ["sg-01234567"],
            },
            "config.sources[0].network.vpc_id: String should match pattern",
        ),
        (
            "sources.0.schedul",
            "cron(0 3 * * ? *)",
            "config.sources[0].schedul: Extra inputs are not permitted",
        ),
        (
            "retention.archive",
            {"storage_class": "STANDARD_IA", "after_days": 7},
            "config.retention.archive: S3 moves",
        ),
        (
            "retention.archive",
            {"storage_class": "DEEP_ARCHIVE", "after_days": 90},
            "config.retention.archive.storage_class",
        ),
        (
            "retention.object_lock",
            {"mode": "STRICT", "days": 7},
            "config.retention.object_lock.mode: Input should be",
        ),
        ("retention.object_lock.days", 0, "config.retention.object_lock.days: Input should be greater"),
        (
            "retention.object_lock",
            {"enabled": False, "days": 30},
            "config.retention.object_lock: mode and days apply only with enabled: true",
        ),
        (
            "functions.timeout_seconds",
            1200,
            "config.functions.timeout_seconds: Input should be less than or equal to 900",
        ),
        ("functions.log_retention_days", 10, "config.functions.log_retention_days: Input should be 1, 3, 5"),
        ("kms_key_arn", "alias/backups", "config.kms_key_arn: String should match pattern"),
        ("alarm_email", "oncall", "config.alarm_email: String should match pattern"),
        ("sources", [], "config.sources: List should have at least 1 item"),
        ("sources.0.ssl_mode", "verify", "config.sources[0].ssl_mode: Input should be 'DISABLED'"),
        (
            "sources.0.ssl_ca",
            "/nonexistent/global-bundle.pem",
            "config.sources[0].ssl_ca: cannot read the CA file",
        ),
        ("sources.0.ssl_ca", str(REPO / "cdk.json"), "config.sources[0].ssl_ca: " + str(REPO / "cdk.json")),
        (
            "sources.0.restore_secret_arn",
            "restore-user",
            "config.sources[0].restore_secret_arn: String should",
        ),
    ],
)
def test_bad_field_is_named(path: str, value: Any, expected: str) -> None:
    message = error_of(with_change(path, value))
    assert message.startswith(expected.replace("Value error, ", "")), message
    assert "\n" not in message  # one problem, one line


@pytest.mark.parametrize(
    ("schedule", "window_hours"),
    [
        ("cron(15 2 * * ? *)", 25),  # in Europe/Berlin: 25 hours apart the night the clocks go back
        ("cron(0 2 ? * MON-FRI *)", 73),
        ("rate(6 hours)", 6),  # a rate counts elapsed time, whatever the clocks do
        ("rate(7 days)", 168),
    ],
)
def test_a_backup_window_that_holds_a_run_is_accepted(schedule: str, window_hours: int) -> None:
    raw = with_change("sources.0.schedule", schedule)
    raw["sources"][0]["backup_window_hours"] = window_hours
    assert load_config(raw).sources[0].backup_window_hours == window_hours


def test_daylight_saving_lengthens_the_longest_time_between_daily_backups() -> None:
    raw = with_change("sources.0.backup_window_hours", 24)
    assert "(25 hours of cron(15 2 * * ? *))" in error_of(raw)  # Europe/Berlin
    raw["sources"][0]["time_zone"] = "UTC"
    assert load_config(raw).sources[0].backup_window_hours == 24


def test_object_lock_is_governance_by_default_and_can_be_switched_off() -> None:
    raw = example_config()
    del raw["retention"]["object_lock"]
    lock = load_config(raw).retention.object_lock
    assert (lock.enabled, lock.mode, lock.days) == (True, "GOVERNANCE", 14)
    assert load_config(with_change("retention.object_lock", {"days": 3})).retention.object_lock.days == 3
    assert not load_config(
        with_change("retention.object_lock", {"enabled": False})
    ).retention.object_lock.enabled
    # Configs written before the default said null for "no Object Lock": that still means off
    assert not load_config(with_change("retention.object_lock", None)).retention.object_lock.enabled


def test_a_ca_file_with_tls_disabled_is_refused() -> None:
    raw = with_change("sources.0.ssl_ca", str(TEST_CA))
    raw["sources"][0]["ssl_mode"] = "DISABLED"
    assert error_of(raw) == "config.sources[0]: ssl_ca makes no sense with ssl_mode DISABLED"


def test_tls_options_and_a_restore_secret_are_accepted() -> None:
    raw = with_change("sources.0.ssl_ca", str(TEST_CA))
    raw["sources"][0].update(ssl_mode="VERIFY_CA", restore_secret_arn=RESTORE_SECRET)
    source = load_config(raw).sources[0]
    assert (source.ssl_mode, source.ssl_ca, source.restore_secret_arn) == (
        "VERIFY_CA",
        str(TEST_CA),
        RESTORE_SECRET,
    )


def test_duplicate_source_names_and_several_problems_at_once() -> None:
    raw = example_config()
    raw["sources"].append(copy.deepcopy(raw["sources"][0]))
    assert error_of(
        raw
    ) == "config.sources: Value error, source names must be unique; repeated: orders-db".replace(
        "Value error, ", ""
    )
    raw = with_change("sources.0.schedule", "daily")
    raw["sources"][0]["time_zone"] = "Nowhere"
    lines = error_of(raw).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "config.sources[0].schedule",
        "config.sources[0].time_zone",
    ]


def test_missing_config_says_where_to_put_it() -> None:
    assert "cdk.json" in error_of(None)


def run_app(context: dict[str, Any], tmp_path: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_app_refuses_a_bad_config_with_one_line_per_field(tmp_path: Any) -> None:
    # Given cdk.json's config with a bad schedule (as `npx aws-cdk synth -c ...` would pass it)
    result = run_app({"cloudbackup": with_change("sources.0.schedule", "nightly")}, tmp_path)
    # Then the synth stops with the field named and no traceback
    assert result.returncode == 1
    assert "config.sources[0].schedule: expected" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_app_reads_a_config_file_named_in_the_context(tmp_path: Any) -> None:
    config_file = tmp_path / "deploy.json"
    config_file.write_text(json.dumps(with_change("sources.0.time_zone", "Atlantis")))
    result = run_app({"cloudbackup_file": str(config_file)}, tmp_path / "out")
    assert result.returncode == 1
    assert "config.sources[0].time_zone: unknown IANA time zone 'Atlantis'" in result.stderr
