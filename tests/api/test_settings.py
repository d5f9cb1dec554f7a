"""The API's settings: one model (``forexbot.config.models.ApiSettings``), validated where the
configuration is read, naming the key; the signing keys apart, never shown."""

from __future__ import annotations

from typing import Any

import pytest

from forexbot.api.tokens import JwtKeys
from forexbot.config.loader import load_settings
from forexbot.config.models import ApiSettings
from forexbot.errors import ConfigError

SECRET = "k" * 40


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("api.port", 70_000, "api.port = 70000 is not allowed"),
        ("api.access_token_ttl_seconds", 0, "api.access_token_ttl_seconds = 0 is not allowed"),
        ("api.max_body_bytes", -1, "api.max_body_bytes = -1 is not allowed"),
        ("api.ws_trade_backlog", 0, "api.ws_trade_backlog = 0 is not allowed"),
        ("api.cors_allow_origins", ["*"], "'*' is not an origin"),
    ],
)
def test_invalid_setting_is_a_config_error_naming_the_key(
    key: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, overrides={key: value})
    assert message in str(raised.value)


def test_a_short_signing_key_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"FOREXBOT_JWT_SECRET.* must be at least 32 characters, got 31"
    ):
        JwtKeys("k" * 31)
    with pytest.raises(ConfigError, match="at least 32 characters, got 5"):
        JwtKeys(SECRET, previous=("short",))


def test_defaults_listen_on_loopback_with_one_hour_tokens() -> None:
    settings = ApiSettings()
    assert (settings.host, settings.port, settings.access_token_ttl_seconds) == (
        "127.0.0.1",
        8080,
        3600,
    )


def test_repr_shows_neither_the_signing_keys_nor_the_tls_key() -> None:
    text = repr(JwtKeys(SECRET, previous=("p" * 40,))) + repr(
        ApiSettings(tls_key="/k.pem", tls_certificate="/c.pem")
    )
    assert SECRET not in text
    assert "p" * 40 not in text
    assert "/k.pem" not in text
