"""The model server: a SageMaker real-time endpoint mirror (container contract, InvokeEndpoint,
Data Capture). Core dependencies only (numpy, onnxruntime, pillow, boto3)."""

from harness.model_server.server import ModelServerHandle, serve_until_signal, start_model_server

__all__ = ["ModelServerHandle", "serve_until_signal", "start_model_server"]
