"""The Fargate task's bootstrap: fetch the functions' asset, check its hash, unpack it, run the task.

It runs in the public Lambda Python base image (Python 3.12 with boto3 and nothing of ours), so it uses
the standard library and boto3 only, and the stack passes its source text as the container's
`python3 -c` command: no image of our own is built, at synth or deploy time.

    python3 -c SOURCE BUCKET KEY SHA256

The asset is the same archive of wheels and sources the functions deploy. A damaged or replaced archive
is refused by its SHA-256 before a byte of it is unpacked or run.
"""

import hashlib
import os
import runpy
import sys
import tempfile
import zipfile

ENTRY_MODULE = "handlers.task"


def main(argv):
    if len(argv) != 3:
        print("cloudbackup bootstrap: usage: BUCKET KEY SHA256", file=sys.stderr)
        return 2
    bucket, key, expected = argv
    before = set(sys.modules)
    import boto3  # the image's own boto3: the asset's is not on the path yet

    workdir = tempfile.mkdtemp(prefix="cloudbackup-")
    archive = os.path.join(workdir, "asset.zip")
    boto3.client("s3").download_file(bucket, key, archive)
    digest = hashlib.sha256()
    with open(archive, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        print(
            f"cloudbackup bootstrap: s3://{bucket}/{key} has SHA-256 {digest.hexdigest()}, "
            f"not the deployed {expected}: refusing to run it",
            file=sys.stderr,
        )
        return 1
    root = os.path.join(workdir, "asset")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(root)
    os.remove(archive)
    # The asset first, as the Lambda runtime puts it: its pinned boto3 and ours, not the image's. Every
    # module the image's boto3 brought in goes (urllib3, dateutil, jmespath, six too, not only boto3's
    # own), so the asset's botocore never runs on the image's versions of what it imports.
    sys.path.insert(0, root)
    for name in set(sys.modules) - before:
        if name.split(".")[0] not in sys.stdlib_module_names:
            del sys.modules[name]
    sys.argv = [ENTRY_MODULE]
    try:
        runpy.run_module(ENTRY_MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
