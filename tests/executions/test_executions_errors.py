"""Errors a user can act on: no stack, no state machine, no such execution."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.executions.api import list_executions
from harness.stack.readiness import free_port


def test_no_stack_listening_says_how_to_start_it(monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_AWS_PORT", str(free_port()))  # nothing listens there
    with pytest.raises(SystemExit) as exit_info:
        main(["executions", "--target", "local"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "does not answer" in err and "make local-up" in err


def test_missing_state_machine_is_a_harness_error(sfn):
    with pytest.raises(HarnessError) as raised:
        list_executions(sfn, "no-such-machine")
    assert "no-such-machine" in raised.value.message and "deploy" in raised.value.hint
