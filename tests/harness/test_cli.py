"""The CLI's edges: help lists every command, usage errors exit 2, HarnessError exits 1 with a hint."""

import subprocess
import sys

import pytest

from harness.cli import COMMANDS


def run(*args: str, env_extra: dict | None = None, tmp_path=None):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_help_lists_every_command():
    out = run("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_imports_and_has_help(name):
    out = run(name, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_unknown_command_is_a_usage_error():
    out = run("no-such-command")
    assert out.returncode == 2
    assert "no-such-command" in out.stderr


def test_e2e_without_a_stack_says_what_to_do(tmp_path):
    out = run("e2e", env_extra={"HARNESS_STATE_DIR": str(tmp_path)})
    assert out.returncode == 1
    assert "not up" in out.stderr and "make local-up" in out.stderr
    assert "Traceback" not in out.stderr
