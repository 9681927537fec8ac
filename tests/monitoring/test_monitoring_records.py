"""Parsing Data Capture: every real captured record, and bad lines reported with file and line."""

from __future__ import annotations

import base64
import glob
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from harness.monitoring.labels import accuracy, known_labels
from harness.monitoring.records import parse_lines
from harness.monitoring.sources import read_folder
from tests.monitoring.monitoring_helpers import capture_line, reencoded_png

WHEN = datetime(2024, 10, 15, 14, 5, 12, tzinfo=UTC)


def test_every_real_sample_record_parses(samples_dir: Path):
    # GIVEN the real captures (24 files, flattened paths, png and application/x-image inputs)
    files = sorted(samples_dir.rglob("*.jsonl"))
    lines = sum(len(f.read_bytes().splitlines()) for f in files)

    # WHEN the folder is read recursively
    capture = read_folder(samples_dir)

    # THEN all 37 records come back, none skipped, each with two probabilities
    assert (len(files), lines) == (24, 37)
    assert capture.files == 24 and capture.problems == []
    assert len(capture.records) == 37
    for r in capture.records:
        assert len(r.probabilities) == 2 and all(isinstance(p, float) for p in r.probabilities)
        assert abs(sum(r.probabilities) - 1) < 1e-3
        assert r.image is not None and r.image.startswith(b"\x89PNG")
    types = [r.input_content_type for r in capture.records]
    assert (types.count("image/png"), types.count("application/x-image")) == (32, 5)
    assert len({r.event_id for r in capture.records}) == 37
    times = [r.time for r in capture.records]
    assert times == sorted(times)
    assert times[0] == WHEN and times[-1] == datetime(2026, 1, 28, 15, 12, 49, tzinfo=UTC)


def test_real_records_in_the_repository_parse(fixtures_dir: Path):
    # GIVEN the real captures every clone has (two files, one of them with two records)
    # WHEN the folder is read recursively
    capture = read_folder(fixtures_dir)

    # THEN all three come back as SageMaker wrote them, none skipped
    assert capture.files == 2 and capture.problems == []
    assert [r.probabilities for r in capture.records] == [
        (0.9921516180038452, 0.007848445326089859),
        (0.9816692471504211, 0.018330726772546768),
        (0.210074782371521, 0.789925217628479),
    ]
    assert [r.predicted_label for r in capture.records] == ["bicycle", "bicycle", "motorcycle"]
    assert [r.time for r in capture.records] == [
        datetime(2025, 10, 4, 9, 6, 25, tzinfo=UTC),
        datetime(2025, 10, 4, 9, 9, 56, tzinfo=UTC),
        datetime(2025, 10, 4, 9, 10, 54, tzinfo=UTC),
    ]
    for r in capture.records:
        assert r.input_content_type == "application/x-image" and r.inference_id is None
        assert r.image is not None and r.image.startswith(b"\x89PNG")
    assert len({r.event_id for r in capture.records}) == 3


def test_sample_labels_match_by_pixels_not_bytes(samples_dir: Path, data_dir: Path):
    capture = read_folder(samples_dir)
    test_bytes = {
        hashlib.sha256(Path(p).read_bytes()).hexdigest()
        for p in glob.glob(f"{data_dir}/test/*.png")
    }
    by_bytes = sum(hashlib.sha256(r.image).hexdigest() in test_bytes for r in capture.records)

    acc = accuracy(capture.records, known_labels(data_dir))

    # byte-identical copies are a subset; pixel hashes also find the re-encoded ones
    assert by_bytes == 24
    assert acc.known == 36
    assert 0 < acc.correct <= acc.known


def test_reencoded_image_keeps_its_label(test_images):
    path, label = test_images[0]
    line = capture_line([0.1, 0.9], WHEN, reencoded_png(path))
    records, problems = parse_lines("x.jsonl", line.encode())
    assert problems == []
    assert records[0].image != path.read_bytes()
    assert known_labels(path.parent.parent)[records[0].pixel_hash] == label


def test_bad_lines_are_reported_with_file_and_line_and_skipped(test_images):
    good = capture_line([0.2, 0.8], WHEN, test_images[0][0].read_bytes())
    obj = json.loads(good)
    no_output = json.loads(good)
    del no_output["captureData"]["endpointOutput"]
    no_time = json.loads(good)
    del no_time["eventMetadata"]["inferenceTime"]
    bad_image = json.loads(good)
    bad_image["captureData"]["endpointInput"]["data"] = base64.b64encode(b"not an image").decode()
    bad_base64 = json.loads(good)
    bad_base64["captureData"]["endpointInput"]["data"] = "%%%not base64%%%"
    logits = json.loads(good)
    logits["captureData"]["endpointOutput"]["data"] = "[2.5, -1.0]"
    three = json.loads(good)
    three["captureData"]["endpointOutput"]["data"] = "[0.2, 0.3, 0.5]"
    lines = [
        good.encode(),  # 1
        b"{not json",  # 2
        json.dumps(no_output).encode(),  # 3
        json.dumps(no_time).encode(),  # 4
        json.dumps(bad_image).encode(),  # 5
        "caf\u00e9".encode("latin-1"),  # 6: wrong encoding
        json.dumps(bad_base64).encode(),  # 7
        json.dumps(logits).encode(),  # 8
        json.dumps(three).encode(),  # 9
        b"",  # 10: blank lines are not problems
        json.dumps(obj).encode(),  # 11
    ]
    records, problems = parse_lines("bad.jsonl", b"\n".join(lines))

    assert [r.line for r in records] == [1, 11]
    reasons = {p.line: p.reason for p in problems}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert all(p.source == "bad.jsonl" for p in problems)
    assert "not JSON" in reasons[2]
    assert "captureData.endpointOutput" in reasons[3]
    assert "inferenceTime" in reasons[4]
    assert "does not decode" in reasons[5]
    assert "UTF-8" in reasons[6]
    assert "base64" in reasons[7]
    assert "not probabilities" in reasons[8]
    assert "3 probabilities" in reasons[9]
    assert str(problems[0]).startswith("bad.jsonl:2: ")


def test_wrapping_quirks_are_read(tmp_path: Path):
    # BOM, CRLF, output captured as BASE64 (content type not listed as JSON) or CSV, no input
    base = json.loads(capture_line([0.3, 0.7], WHEN))
    as_base64 = json.loads(json.dumps(base))
    as_base64["captureData"]["endpointOutput"].update(
        encoding="BASE64", data=base64.b64encode(b"[0.6, 0.4]").decode()
    )
    as_csv = json.loads(json.dumps(base))
    as_csv["captureData"]["endpointOutput"].update(encoding="CSV", data="0.1,0.9")
    body = b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(o).encode() for o in (base, as_base64, as_csv))
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "quirks.jsonl").write_bytes(body)
    (tmp_path / "a" / "ignored.txt").write_text("not a capture file")

    capture = read_folder(tmp_path)

    assert capture.problems == [] and capture.files == 1
    assert [r.probabilities for r in capture.records] == [(0.3, 0.7), (0.6, 0.4), (0.1, 0.9)]
    assert [r.predicted_label for r in capture.records] == ["motorcycle", "bicycle", "motorcycle"]
    assert all(r.image is None for r in capture.records)
