"""sfn_jsonata.py's patch points: restored exactly, and named when a moto upgrade moves them."""

from __future__ import annotations

import importlib
import re

import pytest

from harness.emulator import moto_hooks, moto_speedups, sfn_jsonata
from harness.errors import HarnessError

P = "moto.stepfunctions.parser"
POINTS = [  # (module, owner or None, attribute)
    (f"{P}.asl.jsonata.jsonata", None, "_eval_jsonata"),
    (f"{P}.asl.jsonata.jsonata", None, "encode_jsonata_variable_declarations"),
    (f"{P}.asl.eval.states", None, "encode_jsonata_variable_declarations"),
    (f"{P}.asl.eval.variable_store", None, "encode_jsonata_variable_declarations"),
    (f"{P}.asl.eval.variable_store", "VariableStore", "get_assigned_variables"),
    (f"{P}.asl.component.common.string.string_expression", "StringJSONata", "_eval_body"),
    (f"{P}.asl.component.common.string.string_expression", "StringVariableSample", "_eval_body"),
    (f"{P}.asl.component.state.exec.state_parallel.branches_decl", None, "CustomErrorName"),
    (f"{P}.asl.component.state.exec.state_map.iteration.iteration_worker", None, "CustomErrorName"),
    (
        f"{P}.asl.parse.preprocessor",
        "Preprocessor",
        "visitAssign_template_value_terminal_string_literal",
    ),
    (f"{P}.asl.parse.preprocessor", "Preprocessor", "__init__"),
    (
        f"{P}.asl.component.state.choice.comparison.comparison",
        "ConditionStringJSONata",
        "_eval_body",
    ),
    (f"{P}.asl.component.state.wait.wait_function.seconds", "SecondsJSONata", "_get_wait_seconds"),
]


def owner_of(module: str, owner: str | None):
    target = importlib.import_module(module)
    return getattr(target, owner) if owner else target


def snapshot() -> dict:
    return {point: owner_of(*point[:2]).__dict__.get(point[2]) for point in POINTS}


def test_install_patches_every_point_and_uninstall_restores_it():
    assert sfn_jsonata.installed() == {}, "another test left sfn_jsonata installed"
    before = snapshot()
    sfn_jsonata.install()
    try:
        sfn_jsonata.install()  # idempotent: the originals are kept once
        during = snapshot()
        assert all(during[p] is not before[p] for p in POINTS), "a point was not patched"
        assert len(sfn_jsonata.installed()) == len(POINTS)
    finally:
        sfn_jsonata.uninstall()
    after = snapshot()
    assert all(after[p] is before[p] for p in POINTS), "uninstall did not restore exactly"
    assert sfn_jsonata.installed() == {}


def test_emulator_installs_and_removes_it(tmp_path):
    from harness.config import Settings
    from harness.emulator import EmbeddedAWS

    before = snapshot()
    with EmbeddedAWS(Settings(aws_port=0, state_dir=tmp_path)):
        assert snapshot() != before
    assert snapshot() == before


@pytest.mark.parametrize(("module", "owner", "name"), POINTS)
def test_check_hooks_names_a_moved_point(monkeypatch, module, owner, name):
    monkeypatch.setattr(moto_hooks, "_installed", {})
    monkeypatch.setattr(moto_speedups, "_installed", {})
    monkeypatch.setattr(sfn_jsonata, "_installed", {})
    target = owner_of(module, owner)
    if name == "_eval_jsonata":
        monkeypatch.delattr(target, name)
    elif name == "__init__":  # what it fixes moved: the class-level stack of scopes
        monkeypatch.delattr(target, "_query_language_per_scope")
        name = "_query_language_per_scope"
    else:
        monkeypatch.setattr(target, name, lambda: None)  # moved: other parameters
    with pytest.raises(HarnessError, match=re.escape(name)):
        moto_hooks.check_hooks()
