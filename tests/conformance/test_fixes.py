"""harness/emulator/sfn_fixes.py (and sfn_fixes_rules.py, fixes 4-10): each fix is in place while the embedded AWS runs, is put
back exactly when it stops, and fails loudly when moto changes under it."""

from __future__ import annotations

import datetime
import inspect

import pytest

from harness.emulator import sfn_fixes, sfn_fixes_rules
from harness.errors import HarnessError


def test_no_problems_with_this_moto(aws):
    assert sfn_fixes.problems() == []
    assert len(sfn_fixes.installed()) >= 12  # every point is patched while the stack runs


@pytest.mark.parametrize(
    ("module", "attribute", "value", "named"),
    [
        (sfn_fixes, "_DESCRIBE_MARK", "moto fixed it", "drop sfn_fixes fix 1"),
        (sfn_fixes, "_EXTRACT_MARK", "moto fixed it", "drop sfn_fixes fix 2"),
        (sfn_fixes_rules, "_NO_DEFAULT_MARK", "moto fixed it", "check fix 4"),
        (
            sfn_fixes,
            "_EXTRACT_HOLDERS",
            sfn_fixes._EXTRACT_HOLDERS[1:],
            "more modules bind extract_json",
        ),
    ],
)
def test_a_moved_point_is_named(monkeypatch, module, attribute, value, named):
    """What moto's code looked like when a fix was written is part of problems(): a moto
    that no longer matches (moved, or fixed upstream) stops the emulator with its name."""
    from harness.emulator import moto_hooks

    monkeypatch.setattr(module, attribute, value)
    found = sfn_fixes.problems()
    assert any(named in problem for problem in found), found
    with pytest.raises(HarnessError, match="moto changed under the emulator"):
        moto_hooks.raise_if(found)


def test_uninstall_puts_every_point_back_and_install_again(aws):
    saved = sfn_fixes.installed()
    owners = {name: (owner, attr) for name, (owner, attr, _) in sfn_fixes._installed.items()}
    sfn_fixes.uninstall()
    try:
        for name, (owner, attribute) in owners.items():
            restored = inspect.getattr_static(owner, attribute)
            assert restored is saved[name] or getattr(owner, attribute) is saved[name], name
    finally:
        sfn_fixes.install()
    assert sfn_fixes.installed().keys() == saved.keys()


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("log-2024.txt", "log-*.txt", True),
        ("a*b", "a\\*b", True),
        ("axb", "a\\*b", False),
        ("a?c", "a?c", True),  # ? is no wildcard
        ("abc", "a?c", False),
        ("[x]", "[x]", True),
        ("a\\b", "a\\\\b", True),
        ("", "*", True),
        (5, "*", False),
    ],
)
def test_string_matches(value, pattern, expected):
    assert sfn_fixes_rules.string_matches(value, pattern) is expected


def test_timestamps():
    utc = datetime.UTC
    assert sfn_fixes_rules.string_to_timestamp("2016-08-18T17:33:00Z") == datetime.datetime(
        2016, 8, 18, 17, 33, tzinfo=utc
    )
    assert sfn_fixes_rules.string_to_timestamp("2016-08-18T18:33:00.25+01:00") == datetime.datetime(
        2016, 8, 18, 17, 33, 0, 250000, tzinfo=utc
    )
    for bad in ("2016-08-18 17:33:00Z", "2016-08-18T17:33:00", "yesterday", "2016-13-01T00:00:00Z"):
        assert sfn_fixes_rules.string_to_timestamp(bad) is None, bad
    stamp = datetime.datetime(2019, 3, 26, 20, 14, 13, 192999, tzinfo=utc)
    assert sfn_fixes.aws_time(stamp) == "2019-03-26T20:14:13.192Z"
    assert sfn_fixes.aws_time("2019-03-26T21:14:13.192999+01:00") == "2019-03-26T20:14:13.192Z"


@pytest.mark.parametrize(
    ("path", "definite"),
    [
        ("$", True),
        ("$.a.b", True),
        ("$[0].n", True),
        ("$.items[-1]", True),
        ("$.items[*].name", False),
        ("$.items[0:2]", False),
        ("$.items[?(@.p < 10)]", False),
        ("$..name", False),
        ("$['a','b']", False),
        ("$.items[0,1]", False),
    ],
)
def test_definite_paths(path, definite):
    from jsonpath_ng.ext import parse

    assert sfn_fixes.is_definite(parse(path)) is definite


def test_tolerance():
    assert not sfn_fixes_rules.exceeds_tolerance(0, 4, 0, 0)
    assert sfn_fixes_rules.exceeds_tolerance(1, 4, 0, 0)  # nothing tolerated by default
    assert not sfn_fixes_rules.exceeds_tolerance(1, 4, 1, 0) and sfn_fixes_rules.exceeds_tolerance(
        2, 4, 1, 0
    )
    assert not sfn_fixes_rules.exceeds_tolerance(2, 4, 0, 50) and sfn_fixes_rules.exceeds_tolerance(
        3, 4, 0, 50
    )
