"""The routing tree against Alertmanager's own dispatch/route_test.go expectations."""

from __future__ import annotations

import textwrap

from app.config import Config, Route, load_config
from app.matchers import parse_matcher
from app.route import (
    find_route,
    format_label_set,
    group_key,
    group_labels,
    link,
    match_routes,
    route_id,
    route_key,
    walk,
)

# The tree of Alertmanager's TestRouteMatch, under a config that defines its receivers.
ROUTE_MATCH_TREE = """
route:
  receiver: 'notify-def'
  routes:
  - match:
      owner: 'team-A'
    receiver: 'notify-A'
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      group_by: [...]
    - match:
        env: "production"
      receiver: 'notify-productionA'
      group_wait: 1m
      continue: true
    - match_re:
        env: "produ.*"
        job: ".*"
      receiver: 'notify-productionB'
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: ['job']
  - match_re:
      owner: 'team-(B|C)'
    group_by: ['foo', 'bar']
    group_wait: 2m
    receiver: 'notify-BC'
  - match:
      group_by: 'role'
    group_by: ['role']
    routes:
    - match:
        env: 'testing'
      receiver: 'notify-testing'
      routes:
      - match:
          wait: 'long'
        group_wait: 2m
receivers:
- name: notify-def
- name: notify-A
- name: notify-testing
- name: notify-productionA
- name: notify-productionB
- name: notify-BC
"""


def tree(text: str = ROUTE_MATCH_TREE) -> Config:
    return load_config(textwrap.dedent(text))


def keys(root: Route, labels: dict[str, str]) -> list[str]:
    return [route_key(r) for r in match_routes(root, labels)]


def test_match_keys_are_alertmanagers() -> None:
    root = tree().route
    assert keys(root, {"owner": "team-A"}) == ['{}/{owner="team-A"}']
    assert keys(root, {"owner": "team-A", "env": "unset"}) == ['{}/{owner="team-A"}']
    assert keys(root, {"owner": "team-C"}) == ['{}/{owner=~"^(?:team-(B|C))$"}']
    assert keys(root, {"owner": "team-A", "env": "testing"}) == ['{}/{owner="team-A"}/{env="testing"}']
    assert keys(root, {"owner": "team-A", "env": "production"}) == [
        '{}/{owner="team-A"}/{env="production"}',
        '{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}',
    ]
    assert keys(root, {"group_by": "role"}) == ['{}/{group_by="role"}']
    assert keys(root, {"env": "testing", "group_by": "role"}) == ['{}/{group_by="role"}/{env="testing"}']
    assert keys(root, {"env": "testing", "group_by": "role", "wait": "long"}) == [
        '{}/{group_by="role"}/{env="testing"}/{wait="long"}'
    ]
    assert keys(root, {"anything": "else"}) == ["{}"]


def test_matched_routes_carry_inherited_options() -> None:
    root = tree().route
    (testing,) = match_routes(root, {"owner": "team-A", "env": "testing"})
    assert (testing.receiver, testing.group_by_all, testing.group_wait) == ("notify-testing", True, 30)
    prod_a, prod_b = match_routes(root, {"owner": "team-A", "env": "production"})
    assert (prod_a.receiver, prod_a.group_wait, prod_a.group_by) == ("notify-productionA", 60, [])
    assert (prod_b.group_by, prod_b.repeat_interval) == (["job"], 3600)
    (bc,) = match_routes(root, {"owner": "team-B"})
    assert (bc.group_by, bc.group_wait) == (["foo", "bar"], 120)
    (long_wait,) = match_routes(root, {"env": "testing", "group_by": "role", "wait": "long"})
    assert (long_wait.receiver, long_wait.group_by, long_wait.group_wait) == ("notify-testing", ["role"], 120)


def test_walk_visits_parents_first_in_file_order() -> None:
    assert [r.receiver for r in walk(tree().route)] == [
        "notify-def",
        "notify-A",
        "notify-testing",
        "notify-productionA",
        "notify-productionB",
        "notify-BC",
        "notify-def",
        "notify-testing",
        "notify-testing",
    ]


ROUTE_ID_TREE = """
route:
  receiver: default
  routes:
  - {continue: true, matchers: [foo=bar], receiver: test1, routes: [{matchers: [bar=baz]}]}
  - {continue: true, matchers: [foo=bar], receiver: test1, routes: [{matchers: [bar=baz]}]}
  - {continue: true, matchers: [foo=bar], receiver: test2, routes: [{matchers: [bar=baz]}]}
  - continue: true
    matchers: [bar=baz]
    receiver: test3
    routes: [{matchers: [baz=qux]}, {matchers: [qux=corge]}]
  - {continue: true, matchers: ['qux=~"[a-zA-Z0-9]+"']}
  - {continue: true, matchers: ['corge!~"[0-9]+"']}
receivers: [{name: default}, {name: test1}, {name: test2}, {name: test3}]
"""


def test_route_ids_are_alertmanagers_and_unique() -> None:
    ids = [route_id(r) for r in walk(tree(ROUTE_ID_TREE).route)]
    assert ids == [
        "{}",
        '{}/{foo="bar"}/0',
        '{}/{foo="bar"}/0/{bar="baz"}/0',
        '{}/{foo="bar"}/1',
        '{}/{foo="bar"}/1/{bar="baz"}/0',
        '{}/{foo="bar"}/2',
        '{}/{foo="bar"}/2/{bar="baz"}/0',
        '{}/{bar="baz"}/3',
        '{}/{bar="baz"}/3/{baz="qux"}/0',
        '{}/{bar="baz"}/3/{qux="corge"}/1',
        '{}/{qux=~"[a-zA-Z0-9]+"}/4',
        '{}/{corge!~"[0-9]+"}/5',
    ]
    # Keys, unlike ids, repeat for identical siblings.
    assert route_key(tree(ROUTE_ID_TREE).route.routes[1]) == '{}/{foo="bar"}'


def test_continue_sends_to_every_matching_sibling_and_find_route_reverses_ids() -> None:
    root = tree(ROUTE_ID_TREE).route
    matched = match_routes(root, {"foo": "bar", "bar": "baz", "qux": "x1"})
    assert [route_id(r) for r in matched] == [
        '{}/{foo="bar"}/0/{bar="baz"}/0',
        '{}/{foo="bar"}/1/{bar="baz"}/0',
        '{}/{foo="bar"}/2/{bar="baz"}/0',
        '{}/{bar="baz"}/3',
        '{}/{qux=~"[a-zA-Z0-9]+"}/4',
        '{}/{corge!~"[0-9]+"}/5',
    ]
    for route in matched:
        assert find_route(root, route_id(route)) is route
    assert find_route(root, '{}/{nope="x"}/9') is None


def test_first_match_without_continue_stops_the_siblings() -> None:
    config = tree(
        """
        route:
          receiver: default
          routes:
            - {matchers: [severity=critical], receiver: pager}
            - {matchers: [team=db], receiver: dba}
        receivers: [{name: default}, {name: pager}, {name: dba}]
        """
    )
    assert [r.receiver for r in match_routes(config.route, {"severity": "critical", "team": "db"})] == [
        "pager"
    ]
    assert [r.receiver for r in match_routes(config.route, {"team": "db"})] == ["dba"]


def test_group_labels_and_group_key() -> None:
    config = tree(
        """
        route:
          receiver: default
          group_by: [alertname, cluster]
          routes:
            - {matchers: [severity=page], receiver: pager}
            - {matchers: [team=all], group_by: ['...']}
        receivers: [{name: default}, {name: pager}]
        """
    )
    pager, everything = config.route.routes
    alert = {"alertname": "DiskFull", "severity": "page", "instance": "a:9100"}
    assert group_labels(pager, alert) == {"alertname": "DiskFull"}  # cluster is absent: left out
    assert group_key(pager, alert) == '{}/{severity="page"}:{alertname="DiskFull"}'
    assert group_key(config.route, {"cluster": "eu", "alertname": 'say "hi"'}) == (
        '{}:{alertname="say \\"hi\\"", cluster="eu"}'
    )
    labels = {"team": "all", "b": "2", "a": "1"}
    assert group_labels(everything, labels) == labels
    assert group_key(everything, labels) == '{}/{team="all"}:{a="1", b="2", team="all"}'
    assert group_key(config.route, {}) == "{}:{}"


def test_format_label_set_quotes_like_go() -> None:
    assert format_label_set({"b": "x\ny", "a": "ü\x01"}) == '{a="ü\\x01", b="x\\ny"}'


def test_match_results_are_cached_per_value_of_the_labels_matchers_read_and_per_tree() -> None:
    config = tree()
    root = config.route
    first = match_routes(root, {"owner": "team-A", "env": "production", "alertname": "A"})
    # Another order, another alertname, an instance: labels no matcher reads share the entry,
    # though a route groups by every label ('...') and another by `job`.
    again = match_routes(root, {"instance": "h1", "env": "production", "owner": "team-A", "alertname": "B"})
    assert again is first
    assert [r.receiver for r in again] == ["notify-productionA", "notify-productionB"]
    info = root.cache["match"].cache_info()
    assert (info.hits, info.misses) == (1, 1)
    # A label a matcher reads is part of the entry: `job` (a regex matcher that an absent job
    # matches too) and `wait`.
    assert [r.receiver for r in match_routes(root, {"owner": "team-A", "env": "production", "job": "x"})] == [
        "notify-productionA",
        "notify-productionB",
    ]
    assert root.cache["match"].cache_info().misses == 2
    assert "match" not in tree().route.cache  # a reloaded config starts with its own cache


def test_hand_built_trees_can_be_linked() -> None:
    child = Route(receiver="b", matchers=[parse_matcher("x=y")])
    root = link(Route(receiver="a", routes=[Route(receiver="c"), child]))
    assert child.parent is root and child.index == 1
    assert route_id(child) == '{}/{x="y"}/1' and route_key(child) == '{}/{x="y"}'
    assert [r.receiver for r in match_routes(root, {"x": "y"})] == ["c"]


def test_routing_key_keeps_only_the_labels_routes_read() -> None:
    from app.config import load_config
    from app.route import routing_key, routing_labels

    cfg = load_config(
        "route:\n  receiver: a\n  group_by: [alertname]\n"
        "  routes:\n  - matchers: [team=db]\n    receiver: a\n"
        "receivers:\n- name: a\n"
    )
    one = routing_key(cfg.route, {"alertname": "X", "team": "db", "instance": "h1"})
    two = routing_key(cfg.route, {"alertname": "X", "team": "db", "instance": "h2"})
    assert one == two
    assert routing_labels(cfg.route, one) == {"alertname": "X", "team": "db"}
    # An absent label and an empty one are different keys, and each turns back as it was.
    absent = routing_key(cfg.route, {"alertname": "X"})
    empty = routing_key(cfg.route, {"alertname": "X", "team": ""})
    assert absent != empty and len({one, absent, empty}) == 3
    assert routing_labels(cfg.route, absent) == {"alertname": "X"}
    assert routing_labels(cfg.route, empty) == {"alertname": "X", "team": ""}
    everything = load_config("route:\n  receiver: a\n  group_by: ['...']\nreceivers:\n- name: a\n")
    key = routing_key(everything.route, {"b": "2", "a": "1"})
    assert key == routing_key(everything.route, {"a": "1", "b": "2"})
    assert routing_labels(everything.route, key) == {"a": "1", "b": "2"}
