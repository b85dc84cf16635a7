"""app/yamlv2.py: text read as YAML the way Go's yaml.v2 reads it into an interface{} (which
Alertmanager does with every rendered PagerDuty detail, Jira field and webhook payload string, and
with the config's `any` values)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from app.yamlv2 import NotYAML, from_node, load


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("~", None),
        ("Null", None),
        ("5", 5),
        ("-5", -5),
        ("+5", 5),
        ("1_000", 1000),
        ("0x1F", 31),
        ("0o17", 15),
        ("017", 15),  # Go's ParseInt with base 0: octal
        ("08", 8.0),  # not octal, so ParseFloat: a float
        ("0b101", 5),
        ("0x0x1F", "0x0x1F"),
        ("18446744073709551615", 18446744073709551615),  # uint64
        ("-9223372036854775809", -9.223372036854776e18),  # beyond int64: a float
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("1e400", "1e400"),  # out of range: stays a string
        (".5_0", 0.5),  # ParseFloat takes `_` between digits (Go's atof tests: 1_23.50_0_0e+1_2)
        ("._5", "._5"),  # but not after the point
        ("y", True),
        ("Off", False),
        ("true", True),
        ("1:30", "1:30"),  # sexagesimal in PyYAML, a string in yaml.v2
        ("2024-01-02", "2024-01-02"),  # timestamps stay strings in an interface{}
        ('"5"', "5"),
        ("'yes'", "yes"),
        ("a: 1\nb: [x, 'y', ~]", {"a": 1, "b": ["x", "y", None]}),
        ('{"a":"b","c":[1,2.5]}', {"a": "b", "c": [1, 2.5]}),
        ("1: a\ntrue: b\nc: d", {"c": "d"}),  # Alertmanager keeps string keys only
        ("Labels:\n - a = b\nSource: http://x", {"Labels": ["a = b"], "Source": "http://x"}),
    ],
)
def test_values(text: str, value: Any) -> None:
    assert load(text) == value
    assert type(load(text)) is type(value)


def test_special_floats() -> None:
    assert load(".inf") == math.inf and load("-.Inf") == -math.inf and math.isnan(load(".NaN"))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("base: &b {a: 1, b: 2}\nc: {<<: *b, b: 3}", {"a": 1, "b": 3}),
        ("c: {<<: [{a: 1}, {a: 2, x: 3}], b: 4}", {"a": 1, "x": 3, "b": 4}),  # the earlier map wins
    ],
)
def test_merge_keys(text: str, value: Any) -> None:
    assert load(text)["c"] == value


def test_from_node_reads_a_composed_node_with_the_same_rules() -> None:
    text = "fields: {num: 010, on: yes, str: '5', date: 2024-01-02, list: [1_000, ~]}"
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    # `on` is yaml.v2's true, not a string key: left out.
    assert from_node(node.value[0][1]) == {"num": 8, "str": "5", "date": "2024-01-02", "list": [1000, None]}


@pytest.mark.parametrize("text", ["a: b: c", "[unclosed", "a:\n\tb", "&a [*a]", "{{ .Status }}"])
def test_not_yaml(text: str) -> None:
    with pytest.raises(NotYAML):
        load(text)
