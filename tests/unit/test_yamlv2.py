"""app/yamlv2.py: text read as YAML the way Go's yaml.v2 reads it into an interface{} (which
Alertmanager does with every rendered PagerDuty detail)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.yamlv2 import NotYAML, load


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


@pytest.mark.parametrize("text", ["a: b: c", "[unclosed", "a:\n\tb", "&a [*a]"])
def test_not_yaml(text: str) -> None:
    with pytest.raises(NotYAML):
        load(text)
