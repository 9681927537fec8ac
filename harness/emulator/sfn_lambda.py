"""The Lambda client Step Functions Tasks get: `invoke` goes straight into moto's backend.

moto's interpreter calls Lambda through boto3 and HTTP back into its own server; for each
Task that costs a request serialization, a socket, a server thread and a response parse
(about a third of the emulator's CPU per execution). This client calls the same backend
method moto's HTTP handler calls (`LambdaBackend.invoke`), in the Task's thread, and shapes
the answer and the errors as botocore would, so the interpreter cannot tell the difference:
FunctionError -> the payload's errorType is the Error; a moto error -> ClientError, which the
interpreter names `Lambda.<Code>`. Every other method is the real boto3 client's.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from botocore.exceptions import ClientError
from werkzeug.datastructures import Headers


class InProcessLambdaClient:
    def __init__(self, client: Any, region: str):
        self._client = client
        self._region = region

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def invoke(
        self,
        FunctionName: str,
        Payload: Any = b"",
        Qualifier: str | None = None,
        InvocationType: str = "RequestResponse",
        LogType: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        from moto.awslambda.models import lambda_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.exceptions import JsonRESTError, ServiceException

        parts = FunctionName.split(":")
        is_arn = FunctionName.startswith("arn:") and len(parts) >= 7
        account = parts[4] if is_arn else DEFAULT_ACCOUNT_ID
        region = parts[3] if is_arn else self._region
        headers = Headers({"X-Amz-Invocation-Type": InvocationType})
        if LogType:
            headers["X-Amz-Log-Type"] = LogType
        response_headers: dict[str, str] = {}
        body = Payload.read() if hasattr(Payload, "read") else Payload
        try:
            payload = lambda_backends[account][region].invoke(
                FunctionName, Qualifier, body, headers, response_headers
            )
        except (JsonRESTError, ServiceException) as exc:  # what moto's server turns into errors
            code = getattr(exc, "error_type", None) or str(exc.code)
            status = exc.code if isinstance(exc.code, int) else 400
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": exc.message},
                    "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
                },
                "Invoke",
            ) from exc
        if isinstance(payload, str):
            payload = payload.encode()
        response: dict[str, Any] = {
            "StatusCode": 202 if InvocationType == "Event" else 200,
            "ExecutedVersion": Qualifier or "$LATEST",
            "Payload": io.BytesIO(payload or b""),
        }
        if response_headers.get("x-amz-function-error"):
            response["FunctionError"] = response_headers["x-amz-function-error"]
        if LogType == "Tail" and "x-amz-log-result" in response_headers:
            response["LogResult"] = response_headers["x-amz-log-result"]
        return response
