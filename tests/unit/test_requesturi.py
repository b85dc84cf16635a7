"""The API's `uri` format: each verdict below is Alertmanager 0.25's on the same generatorURL."""

from __future__ import annotations

import pytest

from app.requesturi import request_uri_error

ACCEPTED = [
    "http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
    "/rel path",
    "/a?%zz",  # the query is not checked
    "mailto:x",
    "a:b:c",
    "http:",
    "http:///x",
    "http://h:/",
    "http://h%25/",
    "http://ü/",
    "http://u:p@h/",
    "http://[::1]:80/",
    "http://[fe80::1%25eth0]:9/",
    "*",
]

REFUSED = [
    ("", "empty url"),
    ("not a uri", "invalid URI for request"),
    ("1http:x", "invalid URI for request"),
    ("h?/x", "invalid URI for request"),
    (":x", "missing protocol scheme"),
    ("http://h/\t", "invalid control character in URL"),
    ("http://a b/", "invalid character ' ' in host name"),
    ("http://h:x/", "invalid port ':x' after host"),
    ("http://[::1]x/", "invalid port 'x' after host"),
    ("http://[::1/", "missing ']' in host"),
    ("http://u^v@h/", "invalid userinfo"),
    ("http://%41/", "invalid URL escape '%41'"),
    ("/%zz", "invalid URL escape '%zz'"),
    ("/a#b%zz", "invalid URL escape '%zz'"),  # a request URI has no fragment: it is path
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_what_go_parse_request_uri_takes(url: str) -> None:
    assert request_uri_error(url) is None


@pytest.mark.parametrize(("url", "problem"), REFUSED)
def test_what_go_parse_request_uri_refuses_and_why(url: str, problem: str) -> None:
    assert request_uri_error(url) == problem
