"""Checking an AWS Signature Version 4 the way AWS does: from the request as it arrived.

A test that only compares `Authorization` headers would pass on a signature over the wrong bytes;
this recomputes the signature from what the server received (method, path, the headers named in
SignedHeaders, the body, the X-Amz-Date) with the secret key, so a request whose body, Host or
date differ from what was signed fails. Alertmanager's own requests pass it too, which is what
shows the checker itself right.
"""

from __future__ import annotations

import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.http_sink import ReceivedRequest

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def credential_scope(request: ReceivedRequest) -> tuple[str, str, str]:
    """(access key, region, service) named in the request's Authorization header."""
    found = _AUTHORIZATION.fullmatch(request.headers["Authorization"] or "")
    assert found is not None, request.headers["Authorization"]
    return found["key"], found["region"], found["service"]


def signature_is_valid(request: ReceivedRequest, secret_key: str) -> bool:
    """Whether the request's SigV4 signature is the one its received content calls for."""
    found = _AUTHORIZATION.fullmatch(request.headers["Authorization"] or "")
    assert found is not None, request.headers["Authorization"]
    amz_date = request.headers["X-Amz-Date"]
    assert amz_date is not None and amz_date[:8] == found["date"]
    signed = found["signed"].split(";")
    headers = {name: request.headers[name] for name in signed if name != "host"}
    rebuilt = AWSRequest(
        method=request.method,
        url=f"http://{request.headers['Host']}{request.path}",
        data=request.body,
        headers=headers,
    )
    rebuilt.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(found["key"], secret_key), found["service"], found["region"])
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    return bool(expected == found["signature"])
