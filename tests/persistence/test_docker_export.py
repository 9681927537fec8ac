"""Docker mode's export on `down` and import on `up` (harness/stack/datastore.py), through boto3
against moto's in-process S3 standing in for LocalStack's: the same layout the embedded emulator
writes, headers kept, deletions mirrored, only what is missing or differs put back."""

from __future__ import annotations

import boto3
from moto import mock_aws

from harness.config import Settings
from harness.emulator.persistence_store import Store, data_dir
from harness.stack import datastore


def test_export_then_import_brings_the_bucket_back(tmp_path):
    settings = Settings(target="aws", state_dir=tmp_path, bucket="bkt")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_object(
            Bucket="bkt",
            Key="data_capture/a.jsonl",
            Body=b'{"x": 1}\n',
            ContentType="application/jsonlines",
            Metadata={"m": "1"},
        )
        s3.put_object(Bucket="bkt", Key="gone", Body=b"soon deleted")
        assert datastore.export_bucket(settings) == 2
        s3.delete_object(Bucket="bkt", Key="gone")
        assert datastore.export_bucket(settings) == 1  # the folder mirrors the bucket
        store = Store(data_dir(tmp_path))
        assert [Store.read_object(p).key for p in store.object_files(store.bucket_dir("bkt"))] == [
            "data_capture/a.jsonl"
        ]
    with mock_aws():  # a new LocalStack: empty, then `up` deploys the bucket
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        assert datastore.import_bucket(settings) == (1, [])
        got = s3.get_object(Bucket="bkt", Key="data_capture/a.jsonl")
        assert got["Body"].read() == b'{"x": 1}\n'
        assert got["ContentType"] == "application/jsonlines" and got["Metadata"] == {"m": "1"}
        assert datastore.import_bucket(settings) == (0, [])  # nothing differs any more


def test_import_names_a_broken_file_and_goes_on(tmp_path):
    settings = Settings(target="aws", state_dir=tmp_path, bucket="bkt")
    store = Store(data_dir(tmp_path))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="ok", Body=b"fine")
        s3.put_object(Bucket="bkt", Key="bad", Body=b"cut")
        datastore.export_bucket(settings)
    broken = store.object_path("bkt", "bad")
    broken.write_bytes(b"no header")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bkt")
        count, skipped = datastore.import_bucket(settings)
        assert count == 1 and len(skipped) == 1 and str(broken) in skipped[0]
