"""Where Data Capture files come from: S3 (the local stack or AWS, same code) or a local folder.

S3 keys follow SageMaker's layout
`{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/{mm-ss-mmm}-{uuid}.jsonl`, where the hour
is the one of the file's first record. A time range therefore narrows the listing by
key (StartAfter the hour before `since`: a file begun then may still hold later
records) and the records themselves are filtered by their inferenceTime.
A folder is read recursively (*.jsonl), whatever its layout: real captures are often
flattened, so only the records' own times count there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.monitoring.records import CaptureRecord, Problem, parse_lines, sort_by_time

_HOUR_KEY = re.compile(
    r"(?P<variant>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/[^/]+\.jsonl$"
)


@dataclass
class Capture:
    """What a source yielded: records in time order, problems, and how many files were read."""

    records: list[CaptureRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    description: str = ""

    def add(self, source: str, data: bytes) -> None:
        records, problems = parse_lines(source, data)
        self.records.extend(records)
        self.problems.extend(problems)
        self.files += 1


def in_window(when: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or when >= since) and (until is None or when <= until)


def _finish(capture: Capture, since: datetime | None, until: datetime | None) -> Capture:
    capture.records = sort_by_time(r for r in capture.records if in_window(r.time, since, until))
    return capture


def read_folder(
    path: Path, since: datetime | None = None, until: datetime | None = None
) -> Capture:
    """Every *.jsonl under `path` (or `path` itself if it is a file)."""
    path = Path(path)
    if not path.exists():
        raise HarnessError(
            f"no Data Capture folder at {path}", "pass an existing folder or file to --source"
        )
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    capture = Capture(description=str(path))
    for file in files:
        try:
            capture.add(str(file), file.read_bytes())
        except OSError as exc:
            capture.problems.append(Problem(str(file), 0, f"cannot read: {exc.strerror or exc}"))
    return _finish(capture, since, until)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise HarnessError(
            f"{uri!r} is not an s3://bucket/prefix URI", "set CAPTURE_DESTINATION_S3_URI"
        )
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


def read_s3(
    s3: Any,
    destination: str,
    endpoint: str,
    variant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Capture:
    """Capture files of one endpoint (one variant, or all) whose hour may hold records in the window."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(destination)
    base = "/".join(p for p in (prefix, endpoint) if p) + "/"
    list_args: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": base + (f"{variant}/" if variant else ""),
    }
    if variant and since is not None:
        list_args["StartAfter"] = (
            base + f"{variant}/" + (since - timedelta(hours=1)).strftime("%Y/%m/%d/%H")
        )
    capture = Capture(description=f"s3://{bucket}/{list_args['Prefix']}")
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(**list_args):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not _key_may_hold(key[len(base) :], variant, since, until):
                    continue
                uri = f"s3://{bucket}/{key}"
                try:
                    capture.add(uri, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                except ClientError as exc:
                    capture.problems.append(
                        Problem(uri, 0, f"cannot read: {exc.response['Error']['Code']}")
                    )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise HarnessError(
                f"bucket {bucket!r} does not exist at this target",
                "deploy first (`make local-up`, or `make deploy-aws` with --target aws) or pass --source",
            ) from None
        raise HarnessError(
            f"cannot list {capture.description}: {code or exc}",
            "check the credentials and the target",
        ) from None
    except BotoCoreError as exc:
        raise HarnessError(
            f"cannot reach S3 for {capture.description}: {exc}",
            "start the local stack (`make local-up`), use --target aws, or read a folder with --source PATH",
        ) from None
    return _finish(capture, since, until)


def _key_may_hold(
    rest: str, variant: str | None, since: datetime | None, until: datetime | None
) -> bool:
    """`rest` is the key after `{prefix}/{endpoint}/`; keys outside the layout are not capture files."""
    match = _HOUR_KEY.fullmatch(rest)
    if match is None or (variant and match["variant"] != variant):
        return False
    hour = datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["h"]), tzinfo=UTC)
    # the key's hour is the first record's: later records may follow, earlier ones may not
    return (since is None or hour + timedelta(hours=2) > since) and (until is None or hour <= until)


def s3_client(settings: Any) -> Any:
    """S3 client for the target, at the capture's own S3 endpoint when one is set."""
    from harness import clients

    return clients.client(settings, "s3", endpoint_url=settings.capture_s3_endpoint_url or None)


def parse_when(text: str | None, now: datetime | None = None) -> datetime | None:
    """ISO time (UTC if no zone) or relative like 90s, 30m, 1h, 2d, 1w meaning that long ago."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    rel = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip())
    if rel:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[rel[2]]
        return now - timedelta(**{unit: float(rel[1])})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HarnessError(
            f"cannot read the time {text!r}",
            "use ISO (2024-10-15T14:00:00Z, 2024-10-15) or relative (30m, 1h, 2d)",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
