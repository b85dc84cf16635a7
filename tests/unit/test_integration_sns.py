"""The SNS integration against a local SNS endpoint: the Publish form field by field, a SigV4
signature checked the way AWS checks it, the limits of SNS, FIFO topics, credentials and regions
from the config, the environment and profiles, and how SNS's refusals are judged."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qsl, unquote_to_bytes

import pytest
import yaml

from app.checkconfig import check_config
from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations.sns import (
    MAX_MESSAGE_BYTES,
    MAX_SMS_BYTES,
    MAX_SUBJECT_RUNES,
    _endpoint,
    send_sns,
)
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import TEAM_X, integration
from tests.support.integration_sends import TEAM_X_SUBJECTS as SUBJECTS
from tests.support.sendctx import send_ctx
from tests.support.sigv4 import credential_scope, signature_is_valid

# This file's alert group (tests/support/integration_sends.py).
GROUP_KEY, notification, sections = TEAM_X.key, TEAM_X.notification, TEAM_X.sections

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SIGV4 = {"region": "eu-west-1", "access_key": "AKIDEXAMPLE", "secret_key": SECRET_KEY}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
PUBLISHED = (
    b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
    b"<MessageId>m-1</MessageId></PublishResult></PublishResponse>"
)


def published(request: ReceivedRequest) -> tuple[int, bytes, str]:
    return 200, PUBLISHED, "text/xml"


def sns(sink: HttpSink, **values: object) -> object:
    return integration("sns_configs", {"api_url": sink.url, "topic_arn": TOPIC, "sigv4": SIGV4, **values})


def form(request: ReceivedRequest) -> dict[str, str]:
    fields = parse_qsl(request.body.decode(), keep_blank_values=True)
    assert [name for name, _ in fields] == sorted(name for name, _ in fields)  # the SDK sorts them
    return dict(fields)


@pytest.mark.parametrize("kind", ["firing", "mixed", "resolved"])
def test_publish_to_a_topic_signed_with_sigv4(kind: str) -> None:
    with HttpSink(responder=published) as sink:
        send_sns(sns(sink), notification(kind), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert credential_scope(request) == ("AKIDEXAMPLE", "eu-west-1", "sns")
    assert signature_is_valid(request, SECRET_KEY)
    assert not signature_is_valid(request, "another-secret")
    assert form(request) == {
        "Action": "Publish",
        "Message": "Instance down\n" + sections(kind),
        "Subject": SUBJECTS[kind],
        "TopicArn": TOPIC,
        "Version": "2010-03-31",
    }


def test_attributes_fifo_topics_and_targets() -> None:
    attributes = {"severity": "{{ .CommonLabels.job }}-page", "alertname": "{{ .GroupLabels.alertname }}"}
    with HttpSink(responder=published) as sink:
        send_sns(
            sns(sink, topic_arn=TOPIC + ".fifo", attributes=attributes), notification("firing"), send_ctx(5)
        )
        target = integration(
            "sns_configs", {"api_url": sink.url, "target_arn": "arn:aws:sns:t", "sigv4": SIGV4}
        )
        send_sns(target, notification("firing"), send_ctx(5))
        fifo, to_target = sink.wait_for(2, timeout=5)
    digest = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    fields = form(fifo)
    assert {k: v for k, v in fields.items() if k.startswith("Message") and k != "Message"} == {
        "MessageAttributes.entry.1.Name": "alertname",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "InstanceDown",
        "MessageAttributes.entry.2.Name": "severity",
        "MessageAttributes.entry.2.Value.DataType": "String",
        "MessageAttributes.entry.2.Value.StringValue": "node-page",
        # A FIFO topic: the group key's digest dedupes a resend and orders the group's messages.
        "MessageDeduplicationId": digest,
        "MessageGroupId": digest,
    }
    target_fields = form(to_target)
    assert target_fields["TargetArn"] == "arn:aws:sns:t" and "TopicArn" not in target_fields
    assert not any(k.startswith("MessageAttributes") for k in target_fields)


def raw_message(request: ReceivedRequest) -> bytes:
    """The Message field as bytes: a cut message may end inside a character."""
    value = next(v for k, v in (f.split("=", 1) for f in request.body.decode().split("&")) if k == "Message")
    return unquote_to_bytes(value.replace("+", " "))


def test_messages_are_cut_to_snss_limits_in_bytes() -> None:
    with HttpSink(responder=published) as sink:
        big = sns(sink, message="{{ .Status }}" + "€" * 90_000)  # 270,000 bytes
        send_sns(big, notification("firing"), send_ctx(10))
        sms = integration(
            "sns_configs",
            {"api_url": sink.url, "phone_number": "+15555550100", "sigv4": SIGV4, "message": "é" * 1000},
        )
        send_sns(sms, notification("firing"), send_ctx(5))
        topic, phone = sink.wait_for(2, timeout=10)
    # 256 KiB, cut where the byte count says, inside a character as Alertmanager cuts it.
    assert raw_message(topic) == ("firing" + "€" * 90_000).encode()[:MAX_MESSAGE_BYTES]
    assert raw_message(phone) == ("é" * 1000).encode()[:MAX_SMS_BYTES]
    for request in (topic, phone):
        assert form(request)["MessageAttributes.entry.1.Name"] == "truncated"
        assert form(request)["MessageAttributes.entry.1.Value.StringValue"] == "true"
    assert form(phone)["PhoneNumber"] == "+15555550100"


def test_subject_is_cut_to_100_characters_or_left_out() -> None:
    with HttpSink(responder=published) as sink:
        send_sns(sns(sink, subject="S" * 150), notification("firing"), send_ctx(5))
        send_sns(sns(sink, subject=""), notification("firing"), send_ctx(5))
        long, empty = sink.wait_for(2, timeout=5)
    assert form(long)["Subject"] == "S" * (MAX_SUBJECT_RUNES - 1) + "…"
    assert "Subject" not in form(empty)


def test_api_url_is_a_template_and_its_path_kept() -> None:
    with HttpSink(responder=published) as sink:
        cfg = sns(sink, api_url=sink.url + "{{ .CommonLabels.job }}/sns")
        send_sns(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.path == "/node/sns/"
    assert signature_is_valid(request, SECRET_KEY)


def test_default_endpoints() -> None:
    assert _endpoint("", "eu-west-1") == "https://sns.eu-west-1.amazonaws.com/"
    assert _endpoint("", "cn-north-1") == "https://sns.cn-north-1.amazonaws.com.cn/"
    assert _endpoint("", "xx-nowhere-9") == "https://sns.xx-nowhere-9.amazonaws.com/"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An AWS environment with nothing in it: no keys, empty shared files, no instance metadata
    (whose address must never be asked)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    for name, file in (("AWS_SHARED_CREDENTIALS_FILE", "credentials"), ("AWS_CONFIG_FILE", "config")):
        (tmp_path / file).write_text("")
        monkeypatch.setenv(name, str(tmp_path / file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    return monkeypatch


def test_credentials_and_region_from_the_environment(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    aws_env.setenv("AWS_SESSION_TOKEN", "env-session-token")
    aws_env.setenv("AWS_REGION", "ap-south-1")
    with HttpSink(responder=published) as sink:
        aws_env.setenv("AWS_ENDPOINT_URL_SNS", sink.url)
        cfg = integration("sns_configs", {"topic_arn": TOPIC})
        send_sns(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert credential_scope(request) == ("AKIDENV", "ap-south-1", "sns")
    assert request.headers["X-Amz-Security-Token"] == "env-session-token"
    assert signature_is_valid(request, "env-secret")


def test_credentials_and_region_from_a_profile(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p-secret\n"
    )
    (tmp_path / "config").write_text("[profile ops]\nregion = us-west-2\n")
    with HttpSink(responder=published) as sink:
        cfg = integration(
            "sns_configs", {"api_url": sink.url, "topic_arn": TOPIC, "sigv4": {"profile": "ops"}}
        )
        send_sns(cfg, notification("firing"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert credential_scope(request) == ("AKIDPROFILE", "us-west-2", "sns")
    assert signature_is_valid(request, "p-secret")


def test_no_credentials_or_no_region_is_said(aws_env: pytest.MonkeyPatch) -> None:
    with HttpSink(responder=published) as sink:
        no_keys = integration(
            "sns_configs", {"api_url": sink.url, "topic_arn": TOPIC, "sigv4": {"region": "r"}}
        )
        with pytest.raises(NotifyError) as keys_err:
            send_sns(no_keys, notification("firing"), send_ctx(5))
        no_region = integration("sns_configs", {"api_url": sink.url, "topic_arn": TOPIC})
        with pytest.raises(NotifyError) as region_err:
            send_sns(no_region, notification("firing"), send_ctx(5))
        assert sink.requests == []
    assert "no AWS credentials found; set sigv4.access_key and sigv4.secret_key" in str(keys_err.value)
    assert str(region_err.value) == (
        "sns: region not configured in sns.sigv4.region or in default credentials chain"
    )


def sns_error(status: int, code: str, message: str) -> HttpSink:
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
    return HttpSink(responder=lambda _: (status, xml.encode(), "text/xml"))


@pytest.mark.parametrize(
    ("status", "code", "message", "retryable"),
    [
        (400, "InvalidParameter", "Invalid parameter: TopicArn", False),
        (403, "SignatureDoesNotMatch", "The request signature we calculated does not match", False),
        (404, "NotFound", "Topic does not exist", False),
        (500, "InternalError", "Internal failure", True),
        (503, "Throttling", "Rate exceeded", True),
    ],
)
def test_refusals_follow_alertmanagers_retrier(status: int, code: str, message: str, retryable: bool) -> None:
    with sns_error(status, code, message) as sink, pytest.raises(NotifyError) as err:
        send_sns(sns(sink), notification("firing"), send_ctx(5))
    assert err.value.retryable is retryable
    assert str(err.value) == f"sns: unexpected status code {status}: {code}: {message}"
    assert SECRET_KEY not in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sigv4": SIGV4}, "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"),
        ({"topic_arn": TOPIC, "sigv4": {"access_key": "AKID"}},
         "must provide a AWS SigV4 Access key and Secret Key if credentials are specified"),
        ({"topic_arn": TOPIC, "sigv4": {"external_id": "x"}}, "external_id can only be used with role_arn"),
        ({"topic_arn": TOPIC, "sigv4": {"role_arn": "arn:aws:iam::1:role/r"}},
         "sns_configs: sigv4.role_arn is not supported by alerter"),
        ({"topic_arn": TOPIC, "use_aws_http_client": True},
         "sns_configs: use_aws_http_client is not supported by alerter"),
        ({"topic_arn": TOPIC, "sigv4": {"regoin": "x"}}, "field regoin not found in type sigv4.plain"),
        ({"topic_arn": TOPIC, "attributes": ["a"]}, "cannot unmarshal !!seq into map[string]string"),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_or_alerter_cannot_honour_is_refused(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        integration("sns_configs", values)
    assert message in str(err.value)


def test_without_botocore_an_sns_config_is_refused_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "botocore" else real(name, *a)
    )
    with pytest.raises(ConfigError) as err:
        integration("sns_configs", {"topic_arn": TOPIC})
    assert "install alerter with the `sns` extra (pip install 'alerter[sns]')" in str(err.value)


def test_check_config_names_what_alerter_cannot_honour(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    sigv4 = {"region": "eu-west-1", "role_arn": "arn:aws:iam::1:role/r"}
    doc = {
        "route": {"receiver": "r"},
        "receivers": [{"name": "r", "sns_configs": [{"topic_arn": TOPIC, "sigv4": sigv4}]}],
    }
    path.write_text(yaml.safe_dump(doc))
    report, ok = check_config([str(path)])
    assert not ok
    assert f"Checking '{path}'  FAILED: sns_configs: sigv4.role_arn is not supported by alerter" in report
