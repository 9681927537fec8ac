"""The local stack's data across `down` / `up` (issue 15 point 4), as the stack sees it.

Embedded mode: the emulator itself snapshots S3 and executions into <state_dir>/data and
restores them at start (harness/emulator/persistence.py); here we only read what it says it
restored (its health answer) for `up` to print.

Docker mode: LocalStack's free edition persists nothing (PERSISTENCE=1 is a paid feature, so
everything is gone when its container stops). From outside we can keep the bucket: `down`
exports every object through boto3 into the same layout, and `up`, after the deploy, puts
back what is missing or differs. Not kept there: execution history (no API writes one back),
and anything written after the last export (a kill -9 or a crashed container loses it all).

`down --reset` wipes the folder in either mode.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from harness import clients
from harness.config import Settings
from harness.emulator.contract import HEALTH_PATH
from harness.emulator.persistence_store import Store, StoredObject, Unreadable, data_dir
from harness.stack import compose

_THREADS = 8
# boto3's head_object / put_object names for the standard headers moto keeps as metadata
_HEADERS = {
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "content-language": "ContentLanguage",
    "cache-control": "CacheControl",
}
_META = "x-amz-meta-"


def store(settings: Settings) -> Store:
    return Store(data_dir(settings.state_dir))


def wipe(settings: Settings) -> bool:
    """`down --reset`: True if there was data to wipe."""
    return store(settings).wipe()


def restored_note(settings: Settings) -> str | None:
    """What the embedded emulator restored at its start, as one line (None: nothing)."""
    try:
        url = f"{settings.aws_endpoint_url}{HEALTH_PATH}"
        with urllib.request.urlopen(url, timeout=2) as response:
            persistence = json.loads(response.read()).get("persistence", {})
    except (OSError, ValueError):
        return None
    if not persistence.get("enabled"):
        return None
    restored = persistence.get("restored", {})
    return _note(restored.get("objects", 0), restored.get("executions", 0), restored.get("skipped"))


def _note(objects: int, executions: int | None, skipped: list[str] | None) -> str | None:
    if not objects and not executions and not skipped:
        return None
    text = f"restored {_count(objects, 'object')}" + (
        f", {_count(executions, 'execution')}" if executions is not None else ""
    )
    for problem in skipped or []:
        text += f"\n  skipped unreadable {problem}"
    return text


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# --- docker mode: export on down, import on up ----------------------------------------------


def export_bucket(settings: Settings) -> int:
    """Mirror the bucket into <state_dir>/data/s3 (objects gone from it leave the folder)."""
    s3, bucket, target = clients.client(settings, "s3"), settings.bucket, store(settings)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend((o["Key"], o["ETag"].strip('"')) for o in page.get("Contents", []))
    on_disk = _on_disk(target, bucket)
    todo = [key for key, etag in keys if on_disk.get(key) != etag]

    def fetch(key: str) -> None:
        got = s3.get_object(Bucket=bucket, Key=key)
        metadata = {_META + k: v for k, v in got.get("Metadata", {}).items()}
        metadata.update({h: got[name] for h, name in _HEADERS.items() if got.get(name)})
        target.write_object(
            StoredObject(
                bucket=bucket,
                key=key,
                body=got["Body"].read(),
                content_type=got.get("ContentType") or "binary/octet-stream",
                metadata=metadata,
                etag=got["ETag"].strip('"'),
                last_modified=got.get("LastModified"),
            )
        )

    target.write_bucket(bucket, settings.region, {})
    with ThreadPoolExecutor(_THREADS) as pool:
        list(pool.map(fetch, todo))
    present = {key for key, _ in keys}
    for key in set(on_disk) - present:
        target.delete_object(bucket, key)
    return len(keys)


def _on_disk(target: Store, bucket: str) -> dict[str, str]:
    """key -> ETag of what the folder holds for `bucket` (unreadable files count as absent)."""
    found = {}
    for path in target.object_files(target.bucket_dir(bucket)):
        try:
            stored = target.read_object(path)
        except Unreadable:
            continue
        found[stored.key] = stored.etag
    return found


def import_bucket(settings: Settings) -> tuple[int, list[str]]:
    """Put back what the folder holds for the bucket and it lacks; (objects put, skipped)."""
    s3, bucket, source = clients.client(settings, "s3"), settings.bucket, store(settings)
    folder = source.bucket_dir(bucket)
    if not folder.is_dir():
        return 0, []
    present = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        present.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    skipped: list[str] = []

    def put(path) -> int:
        try:
            stored = source.read_object(path)
        except Unreadable as exc:
            skipped.append(str(exc))
            return 0
        if present.get(stored.key) == stored.etag:
            return 0
        extra = {name: stored.metadata[h] for h, name in _HEADERS.items() if h in stored.metadata}
        user = {k[len(_META) :]: v for k, v in stored.metadata.items() if k.startswith(_META)}
        s3.put_object(
            Bucket=bucket,
            Key=stored.key,
            Body=stored.body,
            ContentType=stored.content_type,
            Metadata=user,
            **extra,
        )
        return 1

    with ThreadPoolExecutor(_THREADS) as pool:
        return sum(pool.map(put, source.object_files(folder))), skipped


def export_quietly(settings: Settings, console: Console) -> None:
    """`down` in docker mode: stop the endpoint (it flushes its Data Capture into LocalStack's
    S3 as it stops), then export, or say why not (the data from the last export stays)."""
    compose._compose(settings, settings.state_dir / "model", "stop", "model-server")
    try:
        count = export_bucket(settings)
    except (BotoCoreError, ClientError, OSError) as exc:
        console.print(
            f"[yellow]could not export s3://{settings.bucket}:[/] {exc}; kept the last export"
        )
        return
    console.print(f"saved {count} objects of s3://{settings.bucket} to {store(settings).root}")


def import_quietly(settings: Settings, console: Console) -> None:
    try:
        count, skipped = import_bucket(settings)
    except (BotoCoreError, ClientError, OSError) as exc:
        console.print(f"[yellow]could not restore s3://{settings.bucket}:[/] {exc}")
        return
    note = _note(count, None, skipped)
    if note:
        console.print(note + " (docker mode keeps no execution history)")
