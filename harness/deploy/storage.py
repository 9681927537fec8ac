"""S3: the bucket, the test images under test/, the model artifact under models/<sha>/.

Uploads are skipped when the object already holds the same bytes: one listing gives every
test image's ETag (the MD5 of a single-part upload), compared with the local files' MD5.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import ClientError

from harness.clients import not_found
from harness.dataset import listed_images
from harness.deploy.base import CREATE, UNCHANGED, UPDATE, Run
from harness.errors import HarnessError

IMAGE_PREFIX = "test/"
MODEL_PREFIX = "models"
_UPLOAD_THREADS = 16


def ensure_bucket(run: Run) -> None:
    s3, bucket = run.client("s3"), run.settings.bucket
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("403", "AccessDenied"):
            raise HarnessError(
                f"Bucket {bucket!r} exists but belongs to someone else (or you may not read it).",
                "bucket names are global: set SCONES_BUCKET to a name of your own",
            ) from exc
        if not not_found(exc):
            raise
        run.record(CREATE, "s3 bucket", bucket)
        if run.apply:
            kwargs = {}
            if run.identity.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": run.identity.region}
            s3.create_bucket(Bucket=bucket, **kwargs)
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": run.tag_list()})
        return
    run.record(UNCHANGED, "s3 bucket", bucket)


def test_images(data_dir: Path) -> list[Path]:
    return [image.path for image in listed_images(data_dir)]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _existing(run: Run, prefix: str) -> dict[str, str]:
    """key -> ETag of every object under prefix (empty when the bucket does not exist yet)."""
    s3, out = run.client("s3"), {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=run.settings.bucket, Prefix=prefix
        ):
            out.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    except ClientError as exc:
        if not not_found(exc):
            raise
    return out


def upload_test_images(run: Run) -> None:
    images = test_images(run.settings.data_dir)
    existing = _existing(run, IMAGE_PREFIX)
    todo = [p for p in images if existing.get(IMAGE_PREFIX + p.name) != _md5(p)]
    name = f"s3://{run.settings.bucket}/{IMAGE_PREFIX}"
    if not todo:
        run.record(UNCHANGED, "test images", name, f"{len(images)} images")
        return
    action = CREATE if len(todo) == len(images) else UPDATE
    run.record(action, "test images", name, f"{len(todo)} of {len(images)} to upload")
    if run.apply:
        s3 = run.client("s3")

        def put(path: Path) -> None:
            s3.put_object(
                Bucket=run.settings.bucket,
                Key=IMAGE_PREFIX + path.name,
                Body=path.read_bytes(),
                ContentType="image/png",
            )

        with ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
            list(pool.map(put, todo))


def require_model(settings) -> None:
    if not settings.model_artifact.is_file():
        raise HarnessError(
            f"Model artifact {settings.model_artifact} not found.",
            "train one with `make train`, or set SCONES_MODEL_ARTIFACT to a model.tar.gz",
        )


def upload_model(run: Run, required: bool) -> str | None:
    """Put model.tar.gz under models/<sha256[:12]>/ (so a Model never sees its data change);
    returns its s3:// URL, or None when there is no artifact and none is required."""
    artifact = run.settings.model_artifact
    if not artifact.is_file():
        if required:
            require_model(run.settings)
        return None
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()[:12]
    key = f"{MODEL_PREFIX}/{digest}/model.tar.gz"
    url = f"s3://{run.settings.bucket}/{key}"
    if _existing(run, key).get(key):
        run.record(UNCHANGED, "model artifact", url)
        return url
    run.record(CREATE, "model artifact", url, f"{artifact.stat().st_size / 1e6:.1f} MB")
    if run.apply:
        run.client("s3").upload_file(str(artifact), run.settings.bucket, key)
    return url
