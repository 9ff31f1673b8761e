"""The operator's IAM policy, exactly as the CDK stack synthesizes it, enforced by a local endpoint.

Given moto with IAM enforcement on, and a user holding the stack's managed policy (bucket and key
references resolved to this test's bucket and key), the user's key backs up, lists and reads back its
backups under the prefix, and is denied on another bucket and outside the prefix.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest

from cloudbackup.catalog import find_backup
from cloudbackup.storage.s3 import S3Storage, s3_client
from tests.fixtures.aws import make_client, set_iam_enforcement, write_key_file
from tests.fixtures.mariadb import admin_connect, db_url

ACCOUNT = "123456789012"
REGION = "us-east-1"


def synthesized_template():
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.config import load_config
    from infra.stack import CloudBackupStack

    with open("cdk.json") as f:
        context = json.load(f)["context"]
    app = cdk.App(context=context)
    stack = CloudBackupStack(app, "IamCheck", config=load_config(context["cloudbackup"]))
    return Template.from_stack(stack).to_json(), context["cloudbackup"]["prefix"]


def operator_policy(template):
    """The PolicyDocument of the managed policy the stack's IAM user holds (exactly one)."""
    resources = template["Resources"]
    users = [r for r in resources.values() if r["Type"] == "AWS::IAM::User"]
    assert len(users) == 1, "the stack defines one operator user"
    [ref] = users[0]["Properties"]["ManagedPolicyArns"]
    policy = resources[ref["Ref"]]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    return policy["Properties"]["PolicyDocument"]


def resolve(value, template, arns):
    """Replace CloudFormation references with this test's names; anything unexpected fails the test."""
    if isinstance(value, list):
        return [resolve(v, template, arns) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", value
        return arns[template["Resources"][logical_id]["Type"]]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(p, template, arns) for p in parts)
    if "Ref" in value:
        pseudo = {"AWS::Region": REGION, "AWS::Partition": "aws", "AWS::AccountId": ACCOUNT}
        pseudo["AWS::URLSuffix"] = "amazonaws.com"
        assert value["Ref"] in pseudo, f"unexpected reference {value}"
        return pseudo[value["Ref"]]
    if len(value) == 1 and next(iter(value)).startswith("Fn::"):
        raise AssertionError(f"unexpected intrinsic function {value}")
    return {k: resolve(v, template, arns) for k, v in value.items()}


@pytest.fixture(scope="module")
def template_and_prefix():
    return synthesized_template()


@pytest.fixture(scope="module")
def iam_setup(iam_moto_endpoint, template_and_prefix, tmp_path_factory):
    """Buckets, key, the operator user with the synthesized policy, and an admin user (all made with
    enforcement off); then enforcement on for the module's tests."""
    template, prefix = template_and_prefix
    endpoint = iam_moto_endpoint
    set_iam_enforcement(endpoint, False)
    s3 = make_client(endpoint, "s3")
    tag = uuid.uuid4().hex[:10]
    own, other = f"cbt-iam-own-{tag}", f"cbt-iam-other-{tag}"
    key_arn = make_client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    for bucket in (own, other):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        }
                    }
                ]
            },
        )
    document = resolve(
        operator_policy(template),
        template,
        {"AWS::S3::Bucket": f"arn:aws:s3:::{own}", "AWS::KMS::Key": key_arn},
    )
    iam = make_client(endpoint, "iam")
    files = {}
    for name, doc in (
        ("operator", document),
        (
            "admin",
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        ),
    ):
        user = f"cbt-{name}-{tag}"
        iam.create_user(UserName=user)
        arn = iam.create_policy(PolicyName=f"{user}-policy", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        path = tmp_path_factory.mktemp("iam") / f"{name}-credentials"
        write_key_file(path, key["AccessKeyId"], key["SecretAccessKey"])
        files[name] = {"file": str(path), "id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    set_iam_enforcement(endpoint, True)
    yield {
        "endpoint": endpoint,
        "own": own,
        "other": other,
        "prefix": prefix,
        "keys": files,
        "document": document,
    }
    set_iam_enforcement(endpoint, False)


def cli(setup, *args, bucket_url, credential="operator", data):
    flags = ["--backup-bucket", bucket_url, "--backup-region", REGION, "--backup-endpoint", setup["endpoint"]]
    flags += ["--backup-credential", setup["keys"][credential]["file"], "--data", data]
    result = subprocess.run(
        [sys.executable, "-m", "cloudbackup.cli.main", *args, *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )
    for key in setup["keys"].values():
        assert key["secret"] not in result.stdout + result.stderr
    return result


@pytest.fixture
def small_database(db_settings, make_database):
    database = make_database("iam")
    with admin_connect(db_settings, database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, f"v{i}") for i in range(100)])
    return database


def test_the_synthesized_policy_is_scoped_to_the_bucket_prefix_and_key(iam_setup):
    statements = iam_setup["document"]["Statement"]
    resources = [
        r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert "*" not in resources
    assert all(iam_setup["own"] in r or r.startswith("arn:aws:kms:") for r in resources)
    assert not any(
        a.endswith(":*") or a == "*"
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )


def backup_cli(setup, settings, database, *, bucket_url, data, json_out=False):
    extra = ["--json"] if json_out else []
    args = ["backup", "--db-url", db_url(settings), "--database", database, *extra]
    return cli(setup, *args, bucket_url=bucket_url, data=data)


def test_the_operator_key_backs_up_lists_verifies_and_restores_in_its_bucket(
    iam_setup, db_settings, small_database, tmp_path
):
    url = f"s3://{iam_setup['own']}/{iam_setup['prefix']}"
    data = str(tmp_path / "data")
    backup = backup_cli(iam_setup, db_settings, small_database, bucket_url=url, data=data, json_out=True)
    assert backup.returncode == 0, backup.stderr
    made = json.loads(backup.stdout)[0]
    listed = cli(iam_setup, "list", "--json", "--database", small_database, bucket_url=url, data=data)
    assert listed.returncode == 0, listed.stderr
    assert [(e["id"], e["store"]) for e in json.loads(listed.stdout)] == [(made["id"], "s3")]
    verified = cli(iam_setup, "verify", "--backup", made["id"], bucket_url=url, data=data)
    assert verified.returncode == 0, verified.stderr
    target = small_database + "_restored"
    restore_args = ["--backup", "latest", "--database", small_database, "--target-database", target]
    restored = cli(
        iam_setup, "restore", "--db-url", db_url(db_settings), *restore_args, bucket_url=url, data=data
    )
    assert restored.returncode == 0, restored.stderr
    with admin_connect(db_settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), SUM(CRC32(v)) FROM `{target}`.t")
        copy = cur.fetchone()
        cur.execute(f"SELECT COUNT(*), SUM(CRC32(v)) FROM `{small_database}`.t")
        assert copy == cur.fetchone()
    # And the stored object is the one the manifest describes, read with the operator's key
    client = s3_client(
        REGION, credential_file=iam_setup["keys"]["operator"]["file"], endpoint_url=iam_setup["endpoint"]
    )
    store = S3Storage(iam_setup["own"], iam_setup["prefix"], region=REGION, client=client)
    entry = find_backup([store], "latest", database=small_database)
    digest = hashlib.sha256(b"".join(store.iter_range(entry.manifest.data.key))).hexdigest()
    assert digest == entry.manifest.data.sha256


@pytest.mark.parametrize("where", ["other bucket", "outside the prefix"])
def test_the_operator_key_is_denied_elsewhere(iam_setup, db_settings, small_database, tmp_path, where):
    url = (
        f"s3://{iam_setup['other']}/{iam_setup['prefix']}"
        if where == "other bucket"
        else f"s3://{iam_setup['own']}/elsewhere"
    )
    result = backup_cli(iam_setup, db_settings, small_database, bucket_url=url, data=str(tmp_path))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "access denied" in line
    assert iam_setup["keys"]["operator"]["file"] in line
    # Nothing was left there (checked with the admin key)
    s3 = make_client(
        iam_setup["endpoint"],
        "s3",
        aws_access_key_id=iam_setup["keys"]["admin"]["id"],
        aws_secret_access_key=iam_setup["keys"]["admin"]["secret"],
    )
    bucket = iam_setup["other"] if where == "other bucket" else iam_setup["own"]
    prefix = iam_setup["prefix"] if where == "other bucket" else "elsewhere"
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_an_unknown_key_or_a_wrong_secret_is_rejected_in_one_line(iam_setup, tmp_path):
    operator = iam_setup["keys"]["operator"]
    bad = {
        "unknown": ("AKIAUNKNOWN000000000", operator["secret"]),
        "wrong secret": (operator["id"], "not-the-secret"),
    }
    for label, (key_id, secret) in bad.items():
        path = tmp_path / label.replace(" ", "-")
        write_key_file(path, key_id, secret)
        iam_setup["keys"]["bad"] = {"file": str(path), "id": key_id, "secret": secret}
        result = cli(
            iam_setup,
            "list",
            bucket_url=f"s3://{iam_setup['own']}/{iam_setup['prefix']}",
            credential="bad",
            data=str(tmp_path),
        )
        assert result.returncode == 2, (label, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert "rejected the credentials" in line, line
        assert str(path) in line
        del iam_setup["keys"]["bad"]


def test_prune_with_the_operator_key_follows_the_policy(iam_setup, db_settings, small_database, tmp_path):
    # Given two backups of the database in the operator's prefix
    url = f"s3://{iam_setup['own']}/{iam_setup['prefix']}"
    data = str(tmp_path / "data")
    for _ in range(2):
        made = backup_cli(iam_setup, db_settings, small_database, bucket_url=url, data=data)
        assert made.returncode == 0, made.stderr
    # When the operator prunes to the last one
    pruned = cli(
        iam_setup, "prune", "--keep-last", "1", "--database", small_database, bucket_url=url, data=data
    )
    listed = cli(iam_setup, "list", "--json", "--database", small_database, bucket_url=url, data=data)
    actions = {a for s in iam_setup["document"]["Statement"] for a in s["Action"]}
    if "s3:DeleteObject" in actions:
        # Then (the stack allows prune) one goes, and S3 keeps it as a non-current version
        assert pruned.returncode == 0, pruned.stderr
        assert "deleted 1 backup(s), kept 1" in pruned.stdout
        assert "stay recoverable as non-current versions" in pruned.stdout
        assert len(json.loads(listed.stdout)) == 1
    else:
        # Then (the stack does not allow prune) it is denied in one line and both stay listed
        assert pruned.returncode == 1, pruned.stderr
        assert "access denied" in pruned.stderr
        assert len(json.loads(listed.stdout)) == 2
