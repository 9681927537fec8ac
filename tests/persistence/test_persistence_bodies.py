"""S3 bodies read from the persisted file once written (harness/emulator/persistence_bodies.py,
issue 17): what S3 answers does not change, nothing is held in memory for a persisted body,
and a body never changes under its key when the file is rewritten or deleted."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.s3.models import s3_backends

from harness.emulator.persistence import Persister
from harness.emulator.persistence_bodies import DiskBody


@pytest.fixture
def persister(tmp_path):
    p = Persister(tmp_path / "data")
    yield p
    p.uninstall()


def fake_key(bucket: str, key: str):
    versions = s3_backends["123456789012"]["global"].buckets[bucket].keys.getlist(key)
    return versions[-1]


def test_a_persisted_body_is_read_from_its_file_and_s3_answers_the_same(persister):
    body = bytes(range(256)) * 400  # 100 KB
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        put = s3.put_object(Bucket="bkt", Key="a/b.bin", Body=body, ContentType="image/png")
        persister.snapshot()
        assert isinstance(fake_key("bkt", "a/b.bin")._value_buffer, DiskBody)
        got = s3.get_object(Bucket="bkt", Key="a/b.bin")
        assert got["Body"].read() == body
        assert got["ETag"] == put["ETag"] and got["ContentType"] == "image/png"
        ranged = s3.get_object(Bucket="bkt", Key="a/b.bin", Range="bytes=1000-1999")
        assert ranged["Body"].read() == body[1000:2000]
        s3.copy_object(Bucket="bkt", Key="copy", CopySource={"Bucket": "bkt", "Key": "a/b.bin"})
        assert s3.get_object(Bucket="bkt", Key="copy")["Body"].read() == body
        assert persister.snapshot()["objects"] == 1  # the copy; the original is unchanged


def test_an_older_version_keeps_its_body_when_the_file_is_rewritten(persister):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="bkt", Key="k", Body=b"first")["VersionId"]
        persister.snapshot()
        s3.put_object(Bucket="bkt", Key="k", Body=b"second, longer")
        persister.snapshot()  # rewrites the file the first version read from
        old = s3.get_object(Bucket="bkt", Key="k", VersionId=first)["Body"].read()
        assert old == b"first"
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"second, longer"


def test_a_released_key_written_again_and_a_deleted_one_behave_as_before(persister):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="k", Body=b"one")
        s3.put_object(Bucket="bkt", Key="gone", Body=b"bye")
        persister.snapshot()
        s3.put_object(Bucket="bkt", Key="k", Body=b"two")
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"two"  # before a snapshot
        s3.delete_object(Bucket="bkt", Key="gone")
        assert persister.snapshot() == {"objects": 1, "deleted": 1, "executions": 0}
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"two"
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket="bkt", Key="gone")


def test_restored_objects_are_read_from_their_files(tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="k", Body=b"kept" * 1000)
        first = Persister(tmp_path / "data")
        first.snapshot()
        first.uninstall()
    with mock_aws():
        again = Persister(tmp_path / "data")
        try:
            again.restore()
            assert isinstance(fake_key("bkt", "k")._value_buffer, DiskBody)
            s3 = boto3.client("s3", region_name="us-east-1")
            assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"kept" * 1000
        finally:
            again.uninstall()


def test_a_body_cut_short_on_disk_is_an_error_not_a_partial_answer(tmp_path):
    path = tmp_path / "obj"
    path.write_bytes(b'{"h": 1}\n' + b"abc")
    body = DiskBody(path, offset=9, size=5)
    with pytest.raises(ValueError, match="3 of the 5 bytes"):
        body.read()


def test_the_fields_it_swaps_are_still_moto_s():
    from harness.emulator import persistence_bodies

    assert persistence_bodies.problems() == []
