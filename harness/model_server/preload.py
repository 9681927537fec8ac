"""What the embedded stack's supervisor imports before it forks model servers (`--preload`,
harness/preforked.py): the server's modules (numpy, onnxruntime, Pillow), and Data Capture's
S3 client, built once here, with botocore's data it parses, for every server forked from it."""

from harness.model_server import capture, server  # noqa: F401

capture.prebuild_s3_client()
