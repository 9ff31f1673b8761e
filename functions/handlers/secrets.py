"""Database credentials from Secrets Manager in the RDS secret format, cached between invocations.

The secret value is never logged and never part of an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cloudbackup.dburl import SslMode  # light: the URL parser, no driver
from cloudbackup.validation import describe_errors

if TYPE_CHECKING:
    from cloudbackup.dburl import DbSettings


class SecretError(RuntimeError):
    """The database secret cannot be read or is not in the RDS secret format."""


# The mysql client's --ssl-mode values (cloudbackup.dburl.SslMode), in any case as the client takes them.
SslModeField = Annotated[
    SslMode,
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]
# The asset's root: a relative CA path names a file shipped in the asset (handlers.constants.ASSET_CA_DIR).
ASSET_ROOT = Path(__file__).resolve().parent.parent


def asset_path(path: str | None) -> str | None:
    return None if path is None else str(ASSET_ROOT / path)


class RdsSecret(BaseModel):
    """`{"host", "port", "username", "password", "dbname"?, "ssl_mode"?, "ssl_ca"?}` plus fields we
    ignore (engine, ...). `ssl_mode`/`ssl_ca` are the mysql client's --ssl-mode/--ssl-ca."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, defer_build=True)

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(gt=0, lt=65536)] = 3306
    username: Annotated[str, Field(min_length=1)]
    password: str
    dbname: str | None = None
    ssl_mode: SslModeField | None = None
    ssl_ca: Annotated[str | None, Field(min_length=1)] = None

    def db_settings(self) -> DbSettings:
        from cloudbackup.dburl import DbSettings

        return DbSettings(
            host=self.host,
            port=self.port,
            user=self.username,
            password=self.password,
            database=self.dbname,
            ssl_mode=self.ssl_mode,
            ssl_ca=asset_path(self.ssl_ca),
        )


def read_db_secret(secret_arn: str, *, max_age: int, force_fetch: bool = False) -> DbSettings:
    """Read and validate the secret through Powertools Parameters (cached for `max_age` seconds)."""
    # Imported here: Parameters pulls in boto3, which a cold start should not pay before it is needed.
    from aws_lambda_powertools.utilities.parameters import get_secret
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        value: Any = get_secret(secret_arn, transform="json", max_age=max_age, force_fetch=force_fetch)
    except TransformParameterError:
        raise SecretError(f"database secret {secret_arn} is not JSON (RDS secret format expected)") from None
    except GetParameterError as exc:
        raise SecretError(f"cannot read database secret {secret_arn}: {_reason(exc)}") from None
    if not isinstance(value, dict):
        raise SecretError(f"database secret {secret_arn} is not a JSON object (RDS secret format expected)")
    try:
        return RdsSecret.model_validate(value).db_settings()
    except ValidationError as exc:
        raise SecretError(
            f"database secret {secret_arn} is not in the RDS secret format: {describe_errors(exc)}"
        ) from None


def _reason(exc: Exception) -> str:
    """The AWS error code and message (e.g. ResourceNotFoundException), one line."""
    cause = exc.__cause__ or exc.__context__ or exc
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__
