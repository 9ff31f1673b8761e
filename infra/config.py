"""The deployment config (cdk.json context `cloudbackup`, or a JSON file it names), validated at synth time.

Every error names the bad field the way the operator wrote it, e.g. `config.sources[0].schedule: ...`,
so a typo fails `cdk synth` with one line instead of a half-built stack.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cloudbackup.dburl import SslMode
from infra.cron import cron_problem, longest_gap

# Keys starting with "_" are comments (JSON has none); they are dropped before validation.
COMMENT_PREFIX = "_"

SOURCE_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
SECRET_ARN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"  # noqa: S105 (a pattern)
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$"
# EventBridge Scheduler expressions: cron with six fields or rate with a unit (at() is for one-time jobs).
# Scheduler refuses at deploy time what these would let through otherwise: a cron that does not leave one
# of day-of-month and day-of-week `?`, and a rate whose unit disagrees in number with its value.
_CRON = re.compile(r"^cron\(\S+ \S+ (\S+) \S+ (\S+) \S+\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)(s?)\)$")
DB_NAME = r"^[^\s/\\.]{1,64}$"
DB_PATTERN = r"^[^\s/\\.]{1,64}$"  # a restore allow-list entry: a name, `*` globs allowed


class Strict(BaseModel):
    # strict: JSON's types as written, no coercion: `"pitr": "yes"` or `"memory_mb": "1024"` is a typo to
    # report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Network(Strict):
    """Where the functions run when the database is only reachable inside a VPC (ids, no lookups)."""

    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")]
    subnet_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]], Field(min_length=1)
    ]
    security_group_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]], Field(min_length=1)
    ]


def check_schedule(value: str) -> str:
    rate = _RATE.match(value)
    if rate and int(rate.group(1)) > 0:
        if (int(rate.group(1)) > 1) == bool(rate.group(3)):
            return value
        raise ValueError('expected "rate(1 minute|hour|day)" or "rate(N minutes|hours|days)" for N > 1')
    cron = _CRON.match(value)
    if cron:
        if [cron.group(1), cron.group(2)].count("?") != 1:
            raise ValueError(
                'expected "?" in exactly one of DOM and DOW of "cron(MIN HOUR DOM MONTH DOW YEAR)"'
            )
        problem = cron_problem(value.removeprefix("cron(").removesuffix(")").split(" "))
        if problem:
            raise ValueError(f'{problem} in "cron(MIN HOUR DOM MONTH DOW YEAR)"')
        if schedule_gap(value) is None:
            raise ValueError("runs fewer than twice in the next two years (a year or a day that passed?)")
        return value
    raise ValueError('expected "cron(MIN HOUR DOM MONTH DOW YEAR)" or "rate(N minutes|hours|days)"')


# How far ahead a cron schedule's runs are looked at: two years catch yearly and leap-day patterns.
GAP_HORIZON_DAYS = 2 * 366
_RATE_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def schedule_gap(value: str) -> timedelta | None:
    """The longest time between two runs of a valid schedule expression (None: fewer than two runs
    in the next two years)."""
    rate = _RATE.match(value)
    if rate:
        return int(rate.group(1)) * _RATE_UNIT[rate.group(2)]
    fields = value.removeprefix("cron(").removesuffix(")").split(" ")
    return longest_gap(fields, date.today(), GAP_HORIZON_DAYS)


def check_alarm_window(window: timedelta, schedule: str, what: str, time_zone: str = "UTC") -> None:
    """An alarm on "no success within `window`" needs a run within every such window: a schedule whose
    runs lie further apart keeps it firing between runs that all succeed."""
    gap = schedule_gap(schedule)
    if gap is not None and schedule.startswith("cron(") and _observes_daylight_saving(time_zone):
        gap += timedelta(hours=1)  # the night the clocks go back: a daily run comes 25 hours after the last
    if gap is not None and gap > window:
        raise ValueError(
            f"{what} is shorter than the longest time between two scheduled runs "
            f"({_hours(gap)} of {schedule}): its alarm would fire between runs that all succeed"
        )


def _observes_daylight_saving(time_zone: str) -> bool:
    zone = zoneinfo.ZoneInfo(time_zone)
    return len({datetime(2026, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}) > 1


def _hours(span: timedelta) -> str:
    hours = span / timedelta(hours=1)
    return f"{hours / 24:g} days" if hours >= 48 and hours % 24 == 0 else f"{hours:g} hours"


def rate_minutes(minutes: int) -> str:
    """A rate expression Scheduler accepts: the unit agrees in number with the value."""
    return check_schedule(f"rate({minutes} minute{'s' if minutes > 1 else ''})")


class Drill(Strict):
    """A restore drill on a schedule: the newest backup restored into a scratch database on the drill
    server (the source's own, or the one `secret_arn` names), proven and dropped."""

    schedule: str
    secret_arn: Annotated[str | None, Field(pattern=SECRET_ARN)] = None
    # The customer managed key that encrypts the drill server's secret, if not the AWS managed one
    secret_kms_key_arn: Annotated[str | None, Field(pattern=KMS_KEY_ARN)] = None
    # No successful drill for this many days raises an alarm. CloudWatch evaluates at most 7 days.
    window_days: Annotated[int, Field(ge=1, le=7, validate_default=True)] = 7

    _schedule_expression = field_validator("schedule")(check_schedule)

    @field_validator("window_days")
    @classmethod
    def _a_drill_within_the_window(cls, value: int, info: ValidationInfo) -> int:
        if "schedule" in info.data:  # (absent when the schedule itself is invalid)
            check_alarm_window(timedelta(days=value), info.data["schedule"], f"window_days {value}")
        return value

    @model_validator(mode="after")
    def _key_of_the_drill_secret(self) -> Drill:
        if self.secret_kms_key_arn and not self.secret_arn:
            raise ValueError(
                "secret_kms_key_arn is the key of the drill server's secret_arn; without one, drills read "
                "the source's secret (its key is the source's secret_kms_key_arn)"
            )
        return self


# Fargate's valid CPU units and, for each, the memory sizes (MiB) a task may have with it.
FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


class Task(Strict):
    """Size of the Fargate task of a source whose runner is fargate (arm64)."""

    cpu: int = 1024
    memory_mib: int = 2048

    @model_validator(mode="after")
    def _fargate_size(self) -> Task:
        if self.cpu not in FARGATE_MEMORY:
            raise ValueError(f"cpu must be one of {', '.join(map(str, FARGATE_MEMORY))} (Fargate CPU units)")
        sizes = FARGATE_MEMORY[self.cpu]
        if self.memory_mib not in sizes:
            raise ValueError(
                f"memory_mib {self.memory_mib} does not go with cpu {self.cpu}: "
                f"{sizes.start}..{sizes.stop - 1} in steps of {sizes.step}"
            )
        return self


class Source(Strict):
    """One database server: its connection secret, what to back up, when, and where restores may go."""

    name: Annotated[str, Field(pattern=SOURCE_NAME, description="lowercase letters, digits, dashes")]
    secret_arn: Annotated[str, Field(pattern=SECRET_ARN, description="the secret's full ARN")]
    secret_kms_key_arn: Annotated[str | None, Field(pattern=KMS_KEY_ARN)] = None
    # The restore function's own database user (grants on the restore targets only); default: secret_arn.
    restore_secret_arn: Annotated[str | None, Field(pattern=SECRET_ARN)] = None
    # TLS to the server (the mysql client's --ssl-mode / --ssl-ca); each overrides the secret's field.
    # ssl_ca is a PEM file on the deploying machine (e.g. RDS's global-bundle.pem), shipped in the asset.
    ssl_mode: SslMode | None = None
    ssl_ca: str | None = None
    databases: list[Annotated[str, Field(pattern=DB_NAME)]] | Literal["*"]
    schedule: str
    time_zone: str = "UTC"
    restore_allow: list[Annotated[str, Field(pattern=DB_PATTERN)]] = []
    backup_window_hours: Annotated[int, Field(ge=1, le=168, validate_default=True)] = 26
    network: Network | None = None
    # Point-in-time recovery: archive the binary log every N minutes (at most N minutes of loss). A
    # fargate source follows it instead (an ECS service, committing every 10 s); N sets its lag alarm.
    pitr: bool = False
    binlog_interval_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    drill: Drill | None = None
    # Where backups and restores run: a Lambda function (15 minutes at most) or an ECS Fargate task.
    runner: Literal["lambda", "fargate"] = "lambda"
    task: Task = Task()
    # Size of a fargate source's binlog follower, which runs all the time (a replica's reads and
    # streamed uploads: the smallest Fargate size is plenty).
    binlog_task: Task = Task(cpu=256, memory_mib=512)

    @model_validator(mode="after")
    def _fargate_needs_a_network(self) -> Source:
        # A Fargate task always runs in subnets of a VPC (awsvpc networking); Lambda may run outside one.
        if self.runner == "fargate" and self.network is None:
            raise ValueError(
                'runner "fargate" needs network: {"vpc_id": ..., "subnet_ids": [...], '
                '"security_group_ids": [...]} (the task runs in those subnets)'
            )
        return self

    @field_validator("binlog_task")
    @classmethod
    def _binlog_task_of_a_follower(cls, value: Task, info: ValidationInfo) -> Task:
        # Checked when given, after runner and pitr (declared before it; absent if they were invalid).
        data = info.data
        if {"runner", "pitr"} <= data.keys() and (data["runner"] != "fargate" or not data["pitr"]):
            raise ValueError('sizes the binlog follower of a "runner": "fargate" source with "pitr": true')
        return value

    @field_validator("databases")
    @classmethod
    def _some_databases(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and not value:
            raise ValueError('list at least one database, or "*" for all')
        if isinstance(value, list) and len(set(value)) < len(value):
            # (each listed database gets a drill schedule of its own: a repeat drills it twice at once)
            repeated = sorted({name for name in value if value.count(name) > 1})
            raise ValueError(f"list each database once; repeated: {', '.join(repeated)}")
        return value

    def secret_for(self, run: Literal["backup", "restore"]) -> str:
        """The database secret a backup or a restore run reads."""
        return (self.restore_secret_arn or self.secret_arn) if run == "restore" else self.secret_arn

    @field_validator("ssl_ca")
    @classmethod
    def _readable_ca_file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            raise ValueError(f"cannot read the CA file {value}: {exc.strerror or exc}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError(f"{value} holds no PEM certificate (for RDS: global-bundle.pem, see the README)")
        return str(path.resolve())

    @model_validator(mode="after")
    def _ca_needs_tls(self) -> Source:
        if self.ssl_ca and self.ssl_mode == "DISABLED":
            raise ValueError("ssl_ca makes no sense with ssl_mode DISABLED")
        return self

    _schedule_expression = field_validator("schedule")(check_schedule)

    @field_validator("backup_window_hours")
    @classmethod
    def _a_backup_within_the_window(cls, value: int, info: ValidationInfo) -> int:
        if {"schedule", "time_zone"} <= info.data.keys():  # (absent when invalid themselves)
            window = timedelta(hours=value)
            what = f"backup_window_hours {value}"
            check_alarm_window(window, info.data["schedule"], what, info.data["time_zone"])
        return value

    @model_validator(mode="after")
    def _drill_names_databases(self) -> Source:
        if self.drill is not None and self.databases == "*":
            raise ValueError('drill: list the databases to drill (a drill restores one database), not "*"')
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. UTC, Europe/Berlin)")
        return value


class Archive(Strict):
    """Move current backups to a cheaper class that still reads instantly (restores stay fast)."""

    storage_class: Literal["STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"]
    after_days: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _s3_minimum(self) -> Archive:
        if self.storage_class == "STANDARD_IA" and self.after_days < 30:
            raise ValueError(
                "S3 moves objects to STANDARD_IA after 30 days at the earliest (after_days >= 30)"
            )
        return self


class ObjectLock(Strict):
    """Default retention of every new object version: until it ends, nobody (COMPLIANCE) or only a
    principal allowed to bypass governance (GOVERNANCE) can delete or overwrite that version.

    On by default (GOVERNANCE). Once on, S3 never turns Object Lock off for the bucket again; a stack
    deployed before this default turns it on for its existing bucket at the next deploy, unless
    `enabled` is false (or `object_lock` is null, as older configs say).
    """

    enabled: bool = True
    mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    days: Annotated[int, Field(ge=1, le=36500)] = 14

    @model_validator(mode="after")
    def _settings_need_the_lock(self) -> ObjectLock:
        if not self.enabled and self.model_fields_set & {"mode", "days"}:
            raise ValueError("mode and days apply only with enabled: true")
        return self


class Retention(Strict):
    noncurrent_days: Annotated[int, Field(ge=1)] = 30
    archive: Archive | None = None
    object_lock: ObjectLock = ObjectLock()
    access_log_days: Annotated[int, Field(ge=1)] = 90

    @field_validator("object_lock", mode="before")
    @classmethod
    def _null_is_off(cls, value: Any) -> Any:
        # Configs written before the default changed said `"object_lock": null` for "no Object Lock".
        return {"enabled": False} if value is None else value


class Functions(Strict):
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 1024
    timeout_seconds: Annotated[int, Field(ge=30, le=900)] = 900
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653] = (
        30
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class DeploymentConfig(Strict):
    """The whole deployment: one bucket, one access user, one backup + restore function pair per source."""

    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = "backups"
    kms_key_arn: Annotated[str | None, Field(pattern=KMS_KEY_ARN)] = None
    alarm_email: Annotated[str | None, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = None
    allow_prune: bool = True
    audit_writes: bool = True  # a CloudTrail trail of the bucket's writes: refused overwrites raise an alarm
    # Each pitr source's binlog function reserves one concurrent execution, so two runs never overlap. Lambda
    # refuses a reservation that leaves an account fewer than 10 unreserved (a new account's limit is 10):
    # false deploys it without one; an overlapping run then stops at the first segment the other archived.
    binlog_reserved_concurrency: bool = True
    access_key_serial: Annotated[int, Field(ge=1)] = 1  # raise it to rotate the operator's access key
    retention: Retention = Retention()
    functions: Functions = Functions()
    sources: Annotated[list[Source], Field(min_length=1)]

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[Source]) -> list[Source]:
        names = [s.name for s in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return value


class ConfigError(ValueError):
    """The config is invalid: one line per problem, each naming the field."""


def strip_comments(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_comments(v) for k, v in value.items() if not str(k).startswith(COMMENT_PREFIX)}
    if isinstance(value, list):
        return [strip_comments(v) for v in value]
    return value


def field_path(loc: tuple[int | str, ...]) -> str:
    path = "config"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _union_branch(part: int | str) -> bool:
    # pydantic names the branch of a union it tried (`list[...]`, `literal['*']`); operators never wrote it.
    return isinstance(part, str) and ("[" in part or part.startswith(("function-", "constrained-")))


def load_config(raw: Any) -> DeploymentConfig:
    """Validate the raw context value; raise ConfigError naming every bad field."""
    if raw is None:
        raise ConfigError(
            "config: missing; set the `cloudbackup` context in cdk.json or pass -c cloudbackup_file=FILE"
        )
    try:
        return DeploymentConfig.model_validate(strip_comments(raw))
    except ValidationError as exc:
        # One line per field; the alternatives of a union (list or "*") are joined on that line.
        problems: dict[str, list[str]] = {}
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not _union_branch(p))
            found = problems.setdefault(field_path(loc), [])
            message = err["msg"].removeprefix("Value error, ")
            if message not in found:
                found.append(message)
        raise ConfigError(
            "\n".join(f"{where}: {' or '.join(found)}" for where, found in problems.items())
        ) from None
