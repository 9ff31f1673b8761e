"""The Lambda asset as it deploys: built by the infrastructure's bundler, each handler imported from the
asset directory alone (sys.path = the asset + the standard library, as the Lambda runtime has it), with
the environment variables exactly as the synthesized template sets them (references replaced by this
test's bucket and key), running a backup and a restore against the real MariaDB and the local endpoint.
"""

from __future__ import annotations

import filecmp
import json
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudbackup.catalog import list_backups
from cloudbackup.dburl import DbSettings
from tests.fixtures.lambda_runtime import SOURCE, Deployment, fill_table, table_fingerprint

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
STACK = "CbtHandlerAsset"
PLACEHOLDER_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudbackup/orders-db-AbCdEf"
HANDLERS = ("handlers.backup.handler", "handlers.restore.handler")

# Runs in a fresh interpreter started with -I -S: no site-packages, no PYTHONPATH, no current directory.
# It imports the handler from the asset, invokes it once with a Lambda-like context, and reports the
# result and any module that came from outside the asset and the standard library.
DRIVER = r"""
import importlib, json, sys, time, uuid
asset, stdlib, entry, event = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sys.path.insert(0, asset)

class Context:
    function_name = "cloudbackup-asset-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cloudbackup-asset-test"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/cloudbackup-asset-test"
    log_stream_name = "asset-test"
    aws_request_id = str(uuid.uuid4())
    _deadline = time.monotonic() + 900
    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)

module_name, function_name = entry.rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), function_name)
try:
    outcome = {"result": handler(event, Context())}
except Exception as exc:
    outcome = {"error": type(exc).__name__, "message": str(exc)}
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
outcome["outside"] = sorted(f for f in files if f and not f.startswith((asset, stdlib)))
outcome["sys_path"] = sys.path
print("ASSET-TEST-OUTCOME " + json.dumps(outcome, default=str))
"""


class XRayDaemon:
    """Stands in for the X-Ray daemon: collects the (sub)segment documents the SDK sends over UDP."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.documents: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.sock.recv(65536)
            except TimeoutError:
                continue
            _header, _, body = packet.partition(b"\n")
            self.documents.append(json.loads(body))

    def subsegments(self) -> list[dict[str, Any]]:
        """Every subsegment received, nested ones included."""
        found: list[dict[str, Any]] = []
        pending = list(self.documents)
        while pending:
            doc = pending.pop()
            found.append(doc)
            pending += doc.get("subsegments", [])
        return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def daemon() -> Iterator[XRayDaemon]:
    listener = XRayDaemon()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def local_asset() -> Path:
    """The real asset, built by the infrastructure's bundler for this machine's platform."""
    from infra.bundling import Platform, build_lambda_asset

    return build_lambda_asset(platform=Platform.local())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The synthesized stack for one source (the deployed asset is built by the synth itself)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.config import load_config
    from infra.stack import CloudBackupStack

    raw = json.loads((REPO / "cdk.json").read_text())["context"]["cloudbackup"]
    raw["sources"] = [
        {
            "name": SOURCE,
            "secret_arn": PLACEHOLDER_SECRET,
            "databases": "*",
            "schedule": "rate(1 day)",
            "restore_allow": ["cbt_*"],
        }
    ]
    app = cdk.App()
    CloudBackupStack(app, STACK, config=load_config(raw))
    synthesized: dict[str, Any] = app.synth().get_stack_by_name(STACK).template
    return synthesized


def functions_by_handler(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and props.get("Handler") in HANDLERS:
            found[props["Handler"]] = props
    return found


def resolve(value: Any, template: dict[str, Any], substitutes: dict[tuple[str, str], str]) -> str:
    """A template value with its intrinsic functions evaluated, references replaced by test values."""
    if isinstance(value, str):
        return value
    [(function, arg)] = value.items()
    if function == "Ref":
        pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
        if arg in pseudo:
            return pseudo[arg]
        return substitutes[(template["Resources"][arg]["Type"], "Ref")]
    if function == "Fn::GetAtt":
        logical_id, attribute = arg
        return substitutes[(template["Resources"][logical_id]["Type"], attribute)]
    if function == "Fn::Join":
        separator, parts = arg
        return str(separator).join(resolve(p, template, substitutes) for p in parts)
    raise AssertionError(f"the function environment uses {function}, which this test cannot evaluate")


@pytest.fixture
def asset_run(
    local_asset: Path,
    template: dict[str, Any],
    deployment: Deployment,
    aws_client: Callable[..., Any],
    daemon: XRayDaemon,
) -> Iterator[Callable[[str, dict[str, Any]], dict[str, Any]]]:
    key_arn = aws_client("kms").create_key(Description="cloudbackup asset test")["KeyMetadata"]["Arn"]
    # The template publishes on the account's default bus: route this test's results to its queue too.
    events, rule = aws_client("events"), f"cbt-asset-{deployment.event_bus}"
    queue_arn = aws_client("sqs").get_queue_attributes(
        QueueUrl=deployment.queue_url, AttributeNames=["QueueArn"]
    )
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["cloudbackup"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn["Attributes"]["QueueArn"]}])
    substitutes = {("AWS::S3::Bucket", "Ref"): deployment.bucket, ("AWS::KMS::Key", "Arn"): key_arn}
    functions = functions_by_handler(template)
    assert set(functions) == set(HANDLERS)
    stdlib = sysconfig.get_paths()["stdlib"]

    def run(entry: str, event: dict[str, Any]) -> dict[str, Any]:
        variables = functions[entry]["Environment"]["Variables"]
        env = {name: resolve(value, template, substitutes) for name, value in variables.items()}
        env = {name: value.replace(PLACEHOLDER_SECRET, deployment.secret_arn) for name, value in env.items()}
        # What the Lambda runtime adds (region, credentials) and the one redirection to the local endpoint.
        runtime = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != "AWS_ENDPOINT_URL_S3"}
        trace_id = (
            f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
        )
        runtime |= {
            "AWS_LAMBDA_FUNCTION_NAME": "cloudbackup-asset-test",
            "AWS_ENDPOINT_URL": deployment.endpoint,
            # Active tracing as the runtime sets it up: the X-Ray SDK sends to the daemon over UDP.
            "LAMBDA_TASK_ROOT": str(local_asset),
            "_X_AMZN_TRACE_ID": trace_id,
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.port}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", DRIVER, str(local_asset), stdlib, entry, json.dumps(event)],
            env={"PATH": "/usr/bin:/bin", **runtime, **env},
            cwd="/",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("ASSET-TEST-OUTCOME ")]
        assert lines, f"the handler did not report (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        outcome: dict[str, Any] = json.loads(lines[-1].removeprefix("ASSET-TEST-OUTCOME "))
        outcome["stderr"] = proc.stderr
        outcome["stdout"] = proc.stdout
        assert outcome["sys_path"][0] == str(local_asset)
        assert not [p for p in outcome["sys_path"][1:] if not p.startswith(stdlib.rsplit("/", 1)[0])]
        assert outcome["outside"] == [], "imported from outside the asset and the standard library"
        return outcome

    yield run
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)


def test_the_deployed_asset_holds_the_same_code_as_the_tested_one(template: dict[str, Any]) -> None:
    """The arm64 asset the stack deploys and the local one the tests import differ only in compiled
    wheels: the same sources, the same distributions."""
    from infra.bundling import Platform, build_lambda_asset

    # Both built now, from the same sources (each is cached by a hash of what goes into it).
    deployed, tested = build_lambda_asset(), build_lambda_asset(platform=Platform.local())
    for package in ("handlers", "cloudbackup"):
        comparison = filecmp.dircmp(deployed / package, tested / package)
        assert _differences(comparison) == [], f"{package} differs between the deployed and the tested asset"
    assert sorted(p.name for p in deployed.iterdir() if p.name.endswith(".dist-info")) == sorted(
        p.name for p in tested.iterdir() if p.name.endswith(".dist-info")
    )
    functions = functions_by_handler(template)
    assert {props["Runtime"] for props in functions.values()} == {"python3.12"}
    assert {tuple(props["Architectures"]) for props in functions.values()} == {("arm64",)}


def _differences(comparison: filecmp.dircmp[str]) -> list[str]:
    diffs = comparison.left_only + comparison.right_only + comparison.diff_files + comparison.funny_files
    for sub in comparison.subdirs.values():
        diffs += _differences(sub)
    return [d for d in diffs if d != "__pycache__"]


def backup_through_the_asset(
    asset_run: Callable[[str, dict[str, Any]], dict[str, Any]],
    deployment: Deployment,
    name: str,
    rows: int,
) -> str:
    """Run the asset's backup function on `name`; check the backup is complete; return its id."""
    outcome = asset_run("handlers.backup.handler", {"source": SOURCE, "databases": [name]})
    assert "error" not in outcome, outcome
    assert outcome["stderr"] == ""  # nothing from the X-Ray SDK or anyone else about missing context
    [database] = outcome["result"]["databases"]
    assert (database["status"], database["rows"]) == ("succeeded", rows)
    [entry] = list_backups([deployment.store()], database=name, source=SOURCE)
    assert entry.id == database["backup_id"]
    deployment.assert_intact(entry)
    head = deployment.aws("s3").head_object(
        Bucket=deployment.bucket, Key=f"backups/{entry.manifest.data.key}"
    )
    assert head["ServerSideEncryption"] == "aws:kms"  # with the key the template names
    return entry.id


def test_backup_through_the_asset_with_the_template_environment(
    asset_run: Callable[[str, dict[str, Any]], dict[str, Any]],
    daemon: XRayDaemon,
    deployment: Deployment,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
) -> None:
    # Given a database on the configured server, big enough for a multipart upload (> one 8 MiB part)
    name = make_database("hasset")
    fill_table(db_settings, name, "orders", 120_000, payload=200, incompressible=True)
    # When the backup function runs from the asset, configured as the template configures it
    # Then it makes a complete backup in the bucket, under the template's prefix, with the template's key
    backup_through_the_asset(asset_run, deployment, name, 120_000)
    # And its result event went to the bus the template names
    [event] = deployment.received_events(1)
    assert (event["detail-type"], event["detail"]["database"]) == ("Backup Succeeded", name)
    # And the trace has the dump-and-upload around the S3 calls, annotated with the database
    traced = daemon.subsegments()
    dump = [s for s in traced if s["name"] == "backup"]
    assert [s["annotations"]["database"] for s in dump] == [name]
    assert {"## handler", "connect", "report"} <= {s["name"] for s in traced}
    operations = [s["aws"]["operation"] for s in traced if s["name"] == "s3"]
    assert operations.count("UploadPart") >= 2
    assert {"CreateMultipartUpload", "CompleteMultipartUpload", "PutObject"} <= set(operations)
    # (the upload starts and its parts go up in the store's worker threads, whose subsegments hang off
    # the function's segment)
    in_dump = {s["aws"]["operation"] for s in traced if s["name"] == "s3" and s["parent_id"] == dump[0]["id"]}
    assert {"CompleteMultipartUpload", "PutObject"} <= in_dump  # the data object's commit, the manifest
    assert [s["aws"]["operation"] for s in traced if s["name"] == "secretsmanager"] == ["GetSecretValue"]


def test_restore_through_the_asset_with_the_template_environment(
    asset_run: Callable[[str, dict[str, Any]], dict[str, Any]],
    deployment: Deployment,
    make_database: Callable[[str], str],
    db_settings: DbSettings,
) -> None:
    # Given a backup the asset's backup function made
    name = make_database("hasset")
    fill_table(db_settings, name, "orders", 257)
    backup_id = backup_through_the_asset(asset_run, deployment, name, 257)
    # When the asset's restore function is asked for a dry run, then a restore into a new database
    target = f"{name}_copy"
    event = {"source": SOURCE, "database": name, "backup": "latest", "target_database": target}
    dry = asset_run("handlers.restore.handler", {**event, "dry_run": True})
    restored = asset_run("handlers.restore.handler", event)
    # Then the dry run verified the backup and changed nothing, and the restore gave back every row
    assert "error" not in dry, dry
    assert (dry["result"]["backup_id"], dry["result"]["verified"], dry["result"]["rows"]) == (
        backup_id,
        True,
        257,
    )
    assert "error" not in restored, restored
    assert restored["result"]["rows"] == 257
    assert table_fingerprint(db_settings, target) == table_fingerprint(db_settings, name)
