"""What the embedded stack's supervisor imports before it forks model servers (`--preload`,
harness/preforked.py): the server's modules (numpy, onnxruntime, Pillow), and botocore's
data for Data Capture's S3 client, parsed once here for every server forked from it."""

from harness.model_server import capture, server  # noqa: F401

capture.warm_s3_client()
