"""JSONata as Step Functions evaluates it, on jsonata-python (no moto here: sfn_jsonata.py
plugs this into moto's engine). `evaluate(expression, bindings)` parses each expression once
(cached), with AWS's added functions registered: `$partition`, `$range`, `$hash`,
`$random([seed])`, `$uuid`, `$parse`; `$eval` is not available on AWS, so it fails here too.
Values cross in jsonata-python's terms (`to_jsonata`, `from_jsonata`: null is not undefined).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
import uuid
from typing import Any

# `$name` anywhere in an expression (string literals too: binding one variable too many is
# harmless, missing one is not).
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


# --- AWS's added functions ------------------------------------------------------------------


class QueryError(Exception):
    """An expression failed: States.QueryEvaluationError with this message as the cause."""


def _aws_partition(array: Any, size: Any) -> list:
    if not isinstance(array, list):
        array = [] if array is None else [array]
    if not is_integer(size) or size <= 0:
        raise QueryError(f"$partition: the chunk size must be a positive integer, got {size!r}")
    size = int(size)
    return [list(array[i : i + size]) for i in range(0, len(array), size)]


def _aws_range(start: Any, end: Any, step: Any) -> list:
    if not all(is_integer(value) for value in (start, end, step)) or step == 0:
        raise QueryError("$range: start, end and a non-zero step must be integers")
    start, end, step = int(start), int(end), int(step)
    return list(range(start, end + (1 if step > 0 else -1), step))


def _aws_hash(data: Any, algorithm: Any) -> str:
    name = _HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        raise QueryError(
            f"$hash: the algorithm must be one of {', '.join(_HASH_ALGORITHMS)}, got {algorithm!r}"
        )
    if not isinstance(data, str):
        raise QueryError("$hash: the data to hash must be a string")
    return hashlib.new(name, data.encode("utf-8")).hexdigest()


def _aws_random(seed: Any = None) -> float:
    if seed is None:
        return random.random()
    if not is_integer(seed):
        raise QueryError(f"$random: the seed must be an integer, got {seed!r}")
    return random.Random(int(seed)).random()


def _aws_uuid() -> str:
    return str(uuid.uuid4())


def _aws_parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise QueryError("$parse: the argument must be a string holding JSON")
    try:
        return to_jsonata(json.loads(text))
    except ValueError as exc:
        raise QueryError(f"$parse: the string is not valid JSON ({exc})") from None


def _no_eval(*_args: Any) -> Any:
    raise QueryError("$eval is not supported by Step Functions; use $parse")


_AWS_FUNCTIONS = {
    "partition": _aws_partition,
    "range": _aws_range,
    "hash": _aws_hash,
    "random": _aws_random,
    "uuid": _aws_uuid,
    "parse": _aws_parse,
    "eval": _no_eval,
}


def is_integer(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
    )


# --- values in and out of jsonata-python ----------------------------------------------------


def to_jsonata(value: Any) -> Any:
    """A copy of a JSON value in jsonata-python's terms: null is Utils.NULL_VALUE (a bound
    None reads as undefined)."""
    from jsonata.utils import Utils

    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {key: to_jsonata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_jsonata(item) for item in value]
    return value


def from_jsonata(value: Any) -> Any:
    """A plain JSON value from a result; QueryError if it holds something JSON cannot."""
    from jsonata.utils import Utils

    if value is Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryError("returned a number JSON cannot hold")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {key: from_jsonata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_jsonata(item) for item in value]
    raise QueryError("returned an unsupported result type.")


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> tuple[Any, frozenset[str]]:
    """The parsed expression (AWS's functions registered) and the variable names it reads."""
    import jsonata

    compiled = jsonata.Jsonata(expression)
    compiled.set_output_convert_nulls(False)  # keep null apart from undefined
    for name, function in _AWS_FUNCTIONS.items():
        compiled.register_lambda(name, function)
    return compiled, frozenset(_VARIABLE.findall(expression))


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "error", None)
    return f"{code}: {text}" if isinstance(code, str) and not text.startswith(code) else text


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """Evaluate one JSONata expression; undefined is None, null is Utils.NULL_VALUE.
    Raises QueryError (a bad expression, an error while evaluating it)."""
    try:
        compiled, _ = compile_expression(expression)
    except Exception as exc:  # noqa: BLE001 - jsonata-python raises JException and others
        raise QueryError(f"The JSONata expression '{expression}' is invalid: {_message(exc)}")
    try:
        return compiled.evaluate(None, bindings)
    except QueryError as exc:
        raise QueryError(f"The JSONata expression '{expression}' failed: {exc}") from None
    except RecursionError:
        raise QueryError(f"The JSONata expression '{expression}' recursed too deeply") from None
    except Exception as exc:  # noqa: BLE001
        raise QueryError(
            f"The JSONata expression '{expression}' threw an error: {_message(exc)}"
        ) from None
