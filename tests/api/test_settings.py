"""ApiSettings refuses bad values at construction, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from forexbot.api.settings import ApiSettings
from forexbot.errors import ConfigError

SECRET = "k" * 40


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"jwt_secret": "k" * 31}, "api.jwt_secret must be at least 32 characters, got 31"),
        ({"port": 70_000}, "api.port must be in 0..65535, got 70000"),
        ({"access_token_ttl_seconds": 0}, "api.access_token_ttl_seconds must be > 0, got 0"),
        ({"max_body_bytes": -1}, "api.max_body_bytes must be > 0, got -1"),
        ({"ws_trade_backlog": 0}, "api.ws_trade_backlog must be > 0, got 0"),
        ({"cors_allow_origins": ("*",)}, "api.cors_allow_origins entries must be full origins"),
    ],
)
def test_invalid_setting_is_a_config_error_naming_the_key(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        ApiSettings(**({"jwt_secret": SECRET} | overrides))


def test_defaults_listen_on_loopback_with_one_hour_tokens() -> None:
    settings = ApiSettings(jwt_secret=SECRET)
    assert (settings.host, settings.port, settings.access_token_ttl_seconds) == (
        "127.0.0.1",
        8080,
        3600,
    )


def test_repr_does_not_show_the_jwt_secret() -> None:
    assert SECRET not in repr(ApiSettings(jwt_secret=SECRET))
