"""Choice rules in JSONPath states, from AWS's page "Choice workflow state" (its comparison
operators, Boolean operators, Default, and the error when nothing matches)."""

from __future__ import annotations

import pytest

NOW = "2024-05-01T12:00:00Z"


def choice_machine(rule: dict | list, default: bool = True) -> dict:
    rules = rule if isinstance(rule, list) else [{**rule, "Next": "Yes"}]
    choice = {"Type": "Choice", "Choices": rules}
    if default:
        choice["Default"] = "No"
    return {
        "StartAt": "Decide",
        "States": {
            "Decide": choice,
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }


# (rule, input, "yes" when it matches, "no" when not) - the operators the page lists
CASES = {
    "StringEquals": ({"Variable": "$.s", "StringEquals": "abc"}, {"s": "abc"}, "yes"),
    "StringEquals-case-sensitive": ({"Variable": "$.s", "StringEquals": "ABC"}, {"s": "abc"}, "no"),
    "StringEqualsPath": (
        {"Variable": "$.s", "StringEqualsPath": "$.t"},
        {"s": "a", "t": "a"},
        "yes",
    ),
    "StringLessThan": ({"Variable": "$.s", "StringLessThan": "b"}, {"s": "a"}, "yes"),
    "StringGreaterThan": ({"Variable": "$.s", "StringGreaterThan": "b"}, {"s": "a"}, "no"),
    "StringLessThanEquals": ({"Variable": "$.s", "StringLessThanEquals": "a"}, {"s": "a"}, "yes"),
    "StringGreaterThanEqualsPath": (
        {"Variable": "$.s", "StringGreaterThanEqualsPath": "$.t"},
        {"s": "b", "t": "a"},
        "yes",
    ),
    "NumericEquals": ({"Variable": "$.n", "NumericEquals": 2}, {"n": 2.0}, "yes"),
    "NumericEqualsPath": ({"Variable": "$.n", "NumericEqualsPath": "$.m"}, {"n": 3, "m": 3}, "yes"),
    "NumericLessThan": ({"Variable": "$.n", "NumericLessThan": 2}, {"n": 1.5}, "yes"),
    "NumericGreaterThan": ({"Variable": "$.n", "NumericGreaterThan": 2}, {"n": 2}, "no"),
    "NumericGreaterThanPath": (
        {"Variable": "$.n", "NumericGreaterThanPath": "$.m"},
        {"n": 3, "m": 2},
        "yes",
    ),
    "NumericLessThanEquals": ({"Variable": "$.n", "NumericLessThanEquals": 2}, {"n": 2}, "yes"),
    "NumericGreaterThanEquals": (
        {"Variable": "$.n", "NumericGreaterThanEquals": 2},
        {"n": 1},
        "no",
    ),
    "BooleanEquals": ({"Variable": "$.b", "BooleanEquals": True}, {"b": True}, "yes"),
    "BooleanEquals-false": ({"Variable": "$.b", "BooleanEquals": True}, {"b": False}, "no"),
    "BooleanEqualsPath": (
        {"Variable": "$.b", "BooleanEqualsPath": "$.c"},
        {"b": False, "c": False},
        "yes",
    ),
    "IsPresent-true": ({"Variable": "$.x", "IsPresent": True}, {"x": None}, "yes"),
    "IsPresent-missing": ({"Variable": "$.x", "IsPresent": True}, {}, "no"),
    "IsPresent-false": ({"Variable": "$.x", "IsPresent": False}, {}, "yes"),
    "IsNull": ({"Variable": "$.x", "IsNull": True}, {"x": None}, "yes"),
    "IsNull-value": ({"Variable": "$.x", "IsNull": True}, {"x": 0}, "no"),
    "IsNumeric": ({"Variable": "$.x", "IsNumeric": True}, {"x": 1.5}, "yes"),
    "IsNumeric-string": ({"Variable": "$.x", "IsNumeric": True}, {"x": "1.5"}, "no"),
    "IsString": ({"Variable": "$.x", "IsString": True}, {"x": "s"}, "yes"),
    "IsString-number": ({"Variable": "$.x", "IsString": True}, {"x": 1}, "no"),
    "IsBoolean": ({"Variable": "$.x", "IsBoolean": True}, {"x": False}, "yes"),
    "IsTimestamp": ({"Variable": "$.x", "IsTimestamp": True}, {"x": NOW}, "yes"),
    "IsTimestamp-not": ({"Variable": "$.x", "IsTimestamp": True}, {"x": "yesterday"}, "no"),
    # StringMatches: "*" matches any run of characters; "\\*" is a literal star
    "StringMatches-suffix": (
        {"Variable": "$.f", "StringMatches": "log-*.txt"},
        {"f": "log-2024-05.txt"},
        "yes",
    ),
    "StringMatches-middle": (
        {"Variable": "$.f", "StringMatches": "*.log.*"},
        {"f": "app.log.1"},
        "yes",
    ),
    "StringMatches-no": (
        {"Variable": "$.f", "StringMatches": "log-*.txt"},
        {"f": "log-1.csv"},
        "no",
    ),
    "StringMatches-escaped-star": (
        {"Variable": "$.f", "StringMatches": "a\\*b"},
        {"f": "a*b"},
        "yes",
    ),
    "StringMatches-escaped-star-is-literal": (
        {"Variable": "$.f", "StringMatches": "a\\*b"},
        {"f": "axxb"},
        "no",
    ),
    "TimestampEquals": ({"Variable": "$.t", "TimestampEquals": NOW}, {"t": NOW}, "yes"),
    "TimestampLessThan": (
        {"Variable": "$.t", "TimestampLessThan": NOW},
        {"t": "2024-04-30T12:00:00Z"},
        "yes",
    ),
    "TimestampGreaterThan": (
        {"Variable": "$.t", "TimestampGreaterThan": NOW},
        {"t": "2024-04-30T12:00:00Z"},
        "no",
    ),
    "TimestampGreaterThanEqualsPath": (
        {"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.u"},
        {"t": NOW, "u": NOW},
        "yes",
    ),
    "TimestampLessThanEquals-offset": (
        {"Variable": "$.t", "TimestampLessThanEquals": NOW},
        {"t": "2024-05-01T13:00:00+01:00"},
        "yes",
    ),
    # Boolean operators
    "And": (
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 1},
                {"Variable": "$.n", "NumericLessThan": 3},
            ]
        },
        {"n": 2},
        "yes",
    ),
    "And-one-false": (
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 1},
                {"Variable": "$.n", "NumericLessThan": 2},
            ]
        },
        {"n": 2},
        "no",
    ),
    "Or": (
        {
            "Or": [
                {"Variable": "$.s", "StringEquals": "a"},
                {"Variable": "$.s", "StringEquals": "b"},
            ]
        },
        {"s": "b"},
        "yes",
    ),
    "Not": ({"Not": {"Variable": "$.s", "StringEquals": "a"}}, {"s": "b"}, "yes"),
    "nested": (
        {
            "And": [
                {"Variable": "$.x", "IsPresent": True},
                {
                    "Not": {
                        "Or": [
                            {"Variable": "$.x", "IsNull": True},
                            {"Variable": "$.x", "NumericEquals": 0},
                        ]
                    }
                },
            ]
        },
        {"x": 5},
        "yes",
    ),
}


@pytest.mark.parametrize(("rule", "payload", "expected"), CASES.values(), ids=CASES.keys())
def test_comparison(run, rule, payload, expected):
    assert run(choice_machine(rule), payload).output == expected


def test_the_first_matching_rule_wins(run):
    rules = [
        {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "No"},
        {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Yes"},
    ]
    assert run(choice_machine(rules), {"n": 5}).output == "no"


def test_the_choice_passes_its_input_on(run):
    # a Choice state's output is its input (InputPath/OutputPath aside)
    definition = choice_machine({"Variable": "$.n", "NumericEquals": 1})
    definition["States"]["Yes"] = {"Type": "Succeed"}
    assert run(definition, {"n": 1, "keep": [1]}).output == {"n": 1, "keep": [1]}


def test_no_match_without_default_is_no_choice_matched(run):
    # "If no rule matches and there is no Default, the execution fails with States.NoChoiceMatched"
    result = run(choice_machine({"Variable": "$.n", "NumericEquals": 1}, default=False), {"n": 2})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_a_missing_variable_is_a_runtime_error(run):
    # comparing a field that is not there fails with States.Runtime (hence IsPresent)
    result = run(choice_machine({"Variable": "$.missing", "StringEquals": "a"}), {"n": 1})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_a_comparison_with_another_type_does_not_match(run):
    # a StringEquals on a number is false: the Default is taken
    assert run(choice_machine({"Variable": "$.n", "StringEquals": "1"}), {"n": 1}).output == "no"
