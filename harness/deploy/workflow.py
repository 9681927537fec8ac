"""The workflow's parts as data: the three functions, their zips, the state machine definition.

Zips are deterministic (sorted entries, fixed timestamps and modes, no caches), so unchanged
code gives the same CodeSha256 and a second deploy changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.config import LAMBDAS_DIR, STATE_MACHINE_FILE
from harness.errors import HarnessError

RUNTIME = "python3.12"
HANDLER = "handler.handler"
SHARED_PACKAGE = "shared"  # lambdas/shared, bundled as shared/ at the root of each zip


@dataclass(frozen=True)
class FunctionSpec:
    folder: str  # lambdas/<folder>
    placeholder: str  # ${...} in the ASL file
    timeout: int  # seconds
    memory: int  # MB
    description: str


FUNCTIONS = (
    FunctionSpec(
        "serialize_image_data",
        "SerializeImageDataFunctionArn",
        10,
        256,
        "Reads the image from S3 and returns it base64 encoded",
    ),
    # InvokeEndpoint may take up to 60 s on SageMaker's side
    FunctionSpec(
        "classify_image",
        "ClassifyImageFunctionArn",
        65,
        256,
        "Sends the image to the SageMaker endpoint and adds the inferences",
    ),
    FunctionSpec(
        "filter_inferences",
        "FilterInferencesFunctionArn",
        5,
        128,
        "Fails the execution when the top confidence is below THRESHOLD",
    ),
)

_SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _files(root: Path) -> list[Path]:
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and not path.name.endswith(_SKIP_SUFFIXES):
            out.append(path)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def build_zip(folder: str, lambdas_dir: Path = LAMBDAS_DIR) -> bytes:
    """lambdas/<folder>/* at the zip's root plus lambdas/shared/ as shared/."""
    source = lambdas_dir / folder
    if not (source / "handler.py").is_file():
        raise HarnessError(
            f"{source / 'handler.py'} is missing: cannot build the {folder} function.",
            "each function lives in lambdas/<name>/handler.py with a `handler` function",
        )
    entries = [(p.relative_to(source).as_posix(), p) for p in _files(source)]
    shared = lambdas_dir / SHARED_PACKAGE
    if shared.is_dir():
        entries += [
            (f"{SHARED_PACKAGE}/{p.relative_to(shared).as_posix()}", p) for p in _files(shared)
        ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, path in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=6)
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def code_paths(folder: str, lambdas_dir: Path = LAMBDAS_DIR) -> list[Path]:
    """Where a function's code lives on disk (the local emulator hot-reloads from there)."""
    return [(lambdas_dir / folder).resolve(), lambdas_dir.resolve()]


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def render_definition(values: dict[str, str], path: Path = STATE_MACHINE_FILE) -> str:
    """The ASL file with `${Name}` placeholders substituted, as SAM's DefinitionSubstitutions do."""
    if not path.is_file():
        raise HarnessError(
            f"State machine definition {path} not found.",
            "statemachine/workflow.asl.json is part of the repository",
        )
    text = path.read_text()
    left = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if left:
        raise HarnessError(
            f"{path.name}: no value for placeholder(s) {', '.join('${' + n + '}' for n in left)}.",
            f"the deployer substitutes {', '.join(sorted(values))}; rename the placeholder "
            "or add it to harness/deploy/workflow.py",
        )
    rendered = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    try:
        json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path.name} is not valid JSON after substitution: {exc}") from exc
    return rendered


def same_definition(a: str, b: str) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except json.JSONDecodeError:
        return a == b
