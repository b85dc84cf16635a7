"""AWS for the SNS integration, on botocore: credentials and region as the AWS SDK finds them, the
service's default endpoint, and Signature Version 4.

botocore is an optional dependency (the `sns` extra): it is imported here when first needed, and
the config loader refuses an `sns_configs` entry when it is missing, so a configured SNS receiver
never silently fails to load its signer. Alertmanager loads the SDK's default configuration at
every send, so credentials in files or the environment are read again each time; so are they here
(a botocore session costs a few milliseconds).

Signing is botocore's own SigV4Auth over the exact bytes the transport then sends, so the
signature covers the body, the Host header and the date that go on the wire.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.notify.errors import NotifyError


def _session(profile: str) -> Any:
    import botocore.session

    return botocore.session.Session(profile=profile or None)


def credentials(sigv4: Mapping[str, Any]) -> Any:
    """The frozen credentials (access key, secret key, token) for a `sigv4` block: its static
    keys, else the AWS default chain (environment, shared files of `profile`, container or
    instance roles). A chain that finds none is a NotifyError saying what to set."""
    from botocore.credentials import ReadOnlyCredentials
    from botocore.exceptions import BotoCoreError

    if sigv4.get("access_key"):
        return ReadOnlyCredentials(sigv4["access_key"], sigv4.get("secret_key", ""), None)
    try:
        found = _session(sigv4.get("profile", "")).get_credentials()
    except BotoCoreError as err:
        raise NotifyError(f"sns: cannot load AWS credentials: {err}", retryable=False) from None
    if found is None:
        raise NotifyError(
            "sns: no AWS credentials found; set sigv4.access_key and sigv4.secret_key, sigv4.profile, "
            "or the AWS environment variables",
            retryable=False,
        )
    return found.get_frozen_credentials()


def region(sigv4: Mapping[str, Any]) -> str:
    """`sigv4.region`, else the SDK's: AWS_REGION, AWS_DEFAULT_REGION, the profile's region."""
    from botocore.exceptions import BotoCoreError

    if sigv4.get("region"):
        return str(sigv4["region"])
    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    try:
        found = _session(sigv4.get("profile", "")).get_config_variable("region")
    except BotoCoreError:
        found = None
    if not found:
        raise NotifyError(
            "sns: region not configured in sns.sigv4.region or in default credentials chain",
            retryable=False,
        )
    return str(found)


@lru_cache(maxsize=64)
def default_endpoint(service: str, region_name: str) -> str:
    """The service's regional endpoint in its AWS partition (amazonaws.com, .com.cn, ...)."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolved = EndpointResolver(create_loader().load_data("endpoints")).construct_endpoint(
        service, region_name
    )
    host = resolved["hostname"] if resolved else f"{service}.{region_name}.amazonaws.com"
    return f"https://{host}/"


def signed_headers(
    url: str, body: bytes, headers: Mapping[str, str], creds: Any, service: str, region_name: str
) -> dict[str, str]:
    """`headers` plus X-Amz-Date, X-Amz-Security-Token (temporary credentials) and the SigV4
    Authorization for a POST of `body` to `url`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(creds, service, region_name).add_auth(request)
    return dict(request.headers.items())
