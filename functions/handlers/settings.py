"""The functions' settings: typed models over the environment the infrastructure sets.

Checked once at cold start; a missing or bad variable stops the function with one line naming it.
Variable names live in handlers.constants. CLOUDBACKUP_SOURCES is a JSON object, for example:

    {"orders-db": {"secret_arn": "arn:aws:secretsmanager:...",   # RDS secret format
                   "databases": ["shop"],                        # or "*": every non-system database
                   "restore_allow": ["shop_restored*", "shop"],  # restore targets (fnmatch patterns)
                   "restore_secret_arn": "arn:...",              # optional: the restore's own user
                   "ssl_mode": "VERIFY_IDENTITY",                # optional, overrides the secret's
                   "ssl_ca": "ca/orders-db.pem",                 # optional, a file in the asset
                   "drill": true,                                # restore drills allowed
                   "drill_secret_arn": "arn:..."}}               # optional: drill on another server
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cloudbackup.validation import describe_errors
from handlers import constants as c
from handlers.models import DatabaseName
from handlers.secrets import SslModeField, asset_path

if TYPE_CHECKING:
    from cloudbackup.dburl import DbSettings


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong: a deployment problem, not a bad event."""


class SourceConfig(BaseModel):
    """One configured database server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_arn: Annotated[str, Field(min_length=1)]
    databases: list[DatabaseName] | Literal["*"] = "*"
    # Databases a restore may write into (fnmatch patterns). Empty: this source cannot be restored
    # by the function, which is the safe default for a production server.
    restore_allow: list[Annotated[str, Field(min_length=1)]] = []
    # The restore function's own database user (grants on the restore targets only); default: secret_arn.
    restore_secret_arn: Annotated[str | None, Field(min_length=1)] = None
    # TLS to the server, as the deployment config sets it; each overrides the secret's field of that name.
    ssl_mode: SslModeField | None = None
    ssl_ca: Annotated[str | None, Field(min_length=1)] = None

    @property
    def restore_secret(self) -> str:
        return self.restore_secret_arn or self.secret_arn

    def with_tls(self, db: DbSettings) -> DbSettings:
        """The secret's settings with this source's TLS options laid over them."""
        if self.ssl_mode is None and self.ssl_ca is None:
            return db
        return replace(
            db,
            ssl_mode=self.ssl_mode or db.ssl_mode,
            ssl_ca=asset_path(self.ssl_ca) if self.ssl_ca else db.ssl_ca,
        )

    # Restore drills write a scratch database (always dropped) on the drill server: the source's own,
    # or the one `drill_secret_arn` names. Off unless the deployment configured a drill.
    drill: bool = False
    drill_secret_arn: Annotated[str, Field(min_length=1)] | None = None

    def allows_backup_of(self, database: str) -> bool:
        return self.databases == "*" or database in self.databases

    def allows_restore_into(self, database: str) -> bool:
        return any(fnmatch.fnmatchcase(database, pattern) for pattern in self.restore_allow)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")]
    prefix: str = ""
    kms_key_id: str | None = None
    event_bus: Annotated[str, Field(min_length=1)]
    sources: Annotated[dict[Annotated[str, Field(min_length=1)], SourceConfig], Field(min_length=1)]
    region: Annotated[str, Field(min_length=1)]
    safety_margin_seconds: Annotated[float, Field(gt=0, le=600)] = 60.0
    compression: Literal["zstd", "gzip", "none"] = "zstd"
    secret_max_age_seconds: Annotated[int, Field(ge=0, le=86400)] = 300
    service: Annotated[str, Field(min_length=1)] = c.DEFAULT_SERVICE
    metrics_namespace: Annotated[str, Field(min_length=1)] = c.DEFAULT_NAMESPACE

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources))
            raise UnknownSource(f"source: {name!r} is not configured (configured: {known})") from None


class UnknownSource(LookupError):
    """The event names a source this deployment does not know."""


# Model field -> environment variable, so an error names what the operator actually sets.
_ENV_OF_FIELD = {
    "bucket": c.ENV_BUCKET,
    "prefix": c.ENV_PREFIX,
    "kms_key_id": c.ENV_KMS_KEY_ID,
    "event_bus": c.ENV_EVENT_BUS,
    "sources": c.ENV_SOURCES,
    "region": c.ENV_REGION,
    "safety_margin_seconds": c.ENV_SAFETY_MARGIN,
    "compression": c.ENV_COMPRESSION,
    "secret_max_age_seconds": c.ENV_SECRET_MAX_AGE,
    "service": c.ENV_SERVICE,
    "metrics_namespace": c.ENV_NAMESPACE,
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {
        field: env[var] for field, var in _ENV_OF_FIELD.items() if env.get(var, "") != ""
    }
    if "sources" in raw:
        try:
            raw["sources"] = json.loads(str(raw["sources"]))
        except json.JSONDecodeError as exc:
            raise SettingsError(f"invalid Lambda settings: {c.ENV_SOURCES} is not JSON: {exc}") from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(f"invalid Lambda settings: {describe_errors(exc, _ENV_OF_FIELD)}") from None
