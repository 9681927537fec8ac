"""The workflow's packaging: deterministic zips with shared/ bundled, ASL placeholders."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from harness.deploy.workflow import FUNCTIONS, build_zip, code_sha256, render_definition
from harness.errors import HarnessError


def test_zip_has_the_handler_and_shared_at_its_root_and_no_caches(sources):
    lambdas = sources.lambdas_dir
    (lambdas / "classify_image" / "__pycache__").mkdir(exist_ok=True)
    (lambdas / "classify_image" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"x")
    names = zipfile.ZipFile(io.BytesIO(build_zip("classify_image", lambdas))).namelist()
    assert "handler.py" in names and "shared/__init__.py" in names
    assert names == sorted(names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_zip_is_byte_identical_for_unchanged_code(sources):
    first = build_zip("serialize_image_data", sources.lambdas_dir)
    # touching files (new mtimes) must not change the zip
    for path in sources.lambdas_dir.rglob("*.py"):
        path.touch()
    assert build_zip("serialize_image_data", sources.lambdas_dir) == first
    handler = sources.lambdas_dir / "serialize_image_data" / "handler.py"
    handler.write_text(handler.read_text() + "\n")
    assert code_sha256(build_zip("serialize_image_data", sources.lambdas_dir)) != code_sha256(first)


def test_missing_handler_is_a_clear_error(tmp_path):
    with pytest.raises(HarnessError, match="handler.py is missing"):
        build_zip("classify_image", tmp_path)


def test_definition_gets_every_arn_substituted(sources):
    arns = {
        spec.placeholder: f"arn:aws:lambda:us-east-1:1:function:{spec.folder}" for spec in FUNCTIONS
    }
    rendered = render_definition(arns, sources.state_machine_file)
    assert "${" not in rendered
    assert all(arn in rendered for arn in arns.values())
    json.loads(rendered)


def test_a_placeholder_left_unsubstituted_is_named(sources):
    path = sources.state_machine_file
    path.write_text(path.read_text().replace("${ClassifyImageFunctionArn}", "${ClassifierArn}"))
    arns = {spec.placeholder: "arn" for spec in FUNCTIONS}
    with pytest.raises(HarnessError, match=r"\$\{ClassifierArn\}"):
        render_definition(arns, path)


def test_the_public_interface_is_pinned():
    import harness.deploy

    assert sorted(harness.deploy.__all__) == [
        "Change",
        "Identity",
        "Outputs",
        "Target",
        "deploy",
        "destroy",
        "make_target",
    ]
