"""Code shared by the three workflow handlers, bundled as `shared/` next to each handler.py.

- event.py           WorkflowEvent: the one read-only view of the event that flows between steps
- errors.py          the named errors the handlers raise (their class name is the Step Functions Error)
- env.py             the environment variables the handlers read, with their defaults
- labels.py          the class names in the endpoint's answer order (the one home of LABELS)
- logger.py          a small JSON logger that stamps the Lambda request id on every line
- lambda_context.py  the type of the `context` argument (type hints only)

Only the standard library and boto3 (present in every Python Lambda runtime) are used.
"""
