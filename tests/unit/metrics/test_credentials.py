"""Bearer tokens are checked before any header is built, and error texts carry no secret."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubetune.metrics.credentials import (
    REDACTED,
    InvalidToken,
    checked_bearer_token,
    display_url,
    redact,
)
from kubetune.metrics.prometheus import PrometheusAuth, PrometheusClient, PrometheusUnavailable

KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
    "BKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
)


def test_surrounding_whitespace_is_dropped_and_empty_means_none() -> None:
    assert checked_bearer_token("abc.def\n") == "abc.def"
    assert checked_bearer_token(" \n") is None
    assert checked_bearer_token(None) is None


@pytest.mark.parametrize("token", [KEY, "abc\ndef", "abc\rdef", "a\x00b", "tab\there", "é-token"])
def test_unsendable_tokens_are_refused_without_quoting_them(token: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        PrometheusAuth(bearer_token=token)
    message = str(refused.value)
    assert "not sent" in message
    for line in token.strip().splitlines():
        assert line.strip() not in message or len(line.strip()) < 4


@given(st.text(min_size=1))
def test_a_token_either_passes_clean_or_is_refused(token: str) -> None:
    stripped = token.strip()
    if stripped and not all(0x20 <= ord(c) <= 0x7E for c in stripped):
        with pytest.raises(InvalidToken) as refused:
            checked_bearer_token(token)
        assert stripped not in str(refused.value) or len(stripped) < 4
    else:
        assert checked_bearer_token(token) == (stripped or None)


def test_redaction_of_secrets_their_lines_escapes_and_url_passwords() -> None:
    text = f"Invalid header value b'Bearer {KEY!r}' and {KEY.splitlines()[1]}"
    cleaned = redact(text, [KEY])
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in cleaned
    assert REDACTED in cleaned
    assert redact("GET http://user:hunter2@prom:9090/x failed", []) == (
        f"GET http://user:{REDACTED}@prom:9090/x failed"
    )
    assert display_url("https://u:pw@prom.example/api") == f"https://u:{REDACTED}@prom.example/api"
    assert display_url("http://prom:9090") == "http://prom:9090"


def test_unavailable_prometheus_names_no_password() -> None:
    client = PrometheusClient("http://admin:hunter2@127.0.0.1:9", retries=0, timeout=1)
    with pytest.raises(PrometheusUnavailable) as error:
        client.query("up")
    assert "hunter2" not in str(error.value)
