#!/usr/bin/env python3
"""CDK entry point: load + validate the deployment config, build the stack.

The config is the `cloudbackup` context in cdk.json, or the JSON file named by `-c cloudbackup_file=FILE`.
The stack name is `-c cloudbackup_stack=NAME` (default CloudBackup). A bad config stops the synth with
one line per bad field, e.g. `config.sources[0].schedule: ...`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# jsii prints a banner on every run when Node.js 20 (end of life) runs it; the CDK CLI warns once anyway.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parent
sys.path[:0] = [str(REPO), str(REPO / "functions")]

import aws_cdk as cdk  # noqa: E402

from infra.config import ConfigError, load_config  # noqa: E402
from infra.stack import CloudBackupStack  # noqa: E402

CONFIG_CONTEXT = "cloudbackup"
CONFIG_FILE_CONTEXT = "cloudbackup_file"
STACK_CONTEXT = "cloudbackup_stack"
DEFAULT_STACK = "CloudBackup"


def raw_config(app: cdk.App) -> Any:
    path = app.node.try_get_context(CONFIG_FILE_CONTEXT)
    if path:
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    return app.node.try_get_context(CONFIG_CONTEXT)


def cli_context() -> dict[str, Any] | None:
    """cdk.json's context when run as `python app.py`; the CDK CLI passes it (and -c values) itself."""
    if os.environ.get("CDK_CONTEXT_JSON") or os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV"):
        return None
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text()).get("context", {})
    return context


def main() -> int:
    app = cdk.App(context=cli_context())
    try:
        config = load_config(raw_config(app))
    except ConfigError as exc:
        print(f"cloudbackup: invalid deployment config:\n{exc}", file=sys.stderr)
        return 1
    CloudBackupStack(app, app.node.try_get_context(STACK_CONTEXT) or DEFAULT_STACK, config=config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
