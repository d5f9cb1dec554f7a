"""The VAPID key file and what a subscription must look like."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from forexbot.errors import ConfigError
from forexbot.notifications.endpoints import check_auth, check_endpoint, check_p256dh
from forexbot.notifications.vapid import (
    FILE_NAME,
    load_or_create_vapid_key,
    vapid_subject,
)

from .push_service import Browser, b64url_decode


def test_the_key_is_made_on_first_start_owner_only(tmp_path: Path) -> None:
    key = load_or_create_vapid_key(tmp_path)
    mode = stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode)
    assert mode == 0o600
    raw = b64url_decode(key.public_key)
    assert (len(raw), raw[0]) == (65, 4)


def test_later_starts_reuse_the_key(tmp_path: Path) -> None:
    first = load_or_create_vapid_key(tmp_path)
    assert load_or_create_vapid_key(tmp_path).public_key == first.public_key


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_vapid_key(tmp_path)
    (tmp_path / FILE_NAME).chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_vapid_key(tmp_path)


def test_the_subject_must_be_a_mailto_or_https_url() -> None:
    assert vapid_subject({}) == "mailto:forexbot@localhost"
    assert vapid_subject({"FOREXBOT_VAPID_SUBJECT": "https://ops.example"}) == "https://ops.example"
    with pytest.raises(ConfigError, match="FOREXBOT_VAPID_SUBJECT"):
        vapid_subject({"FOREXBOT_VAPID_SUBJECT": "ops@example.com"})


@pytest.mark.parametrize(
    "url",
    ["https://fcm.googleapis.com/fcm/send/abc", "http://127.0.0.1:8123/push/1", "http://[::1]/p"],
)
def test_https_endpoints_and_http_on_loopback_are_accepted(url: str) -> None:
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    "url", ["http://push.example.com/x", "ftp://127.0.0.1/x", "/relative", "https://"]
)
def test_plain_http_elsewhere_and_non_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        check_endpoint(url)


def test_the_browser_keys_must_be_a_p256_point_and_a_16_byte_secret() -> None:
    browser = Browser()
    assert check_p256dh(browser.p256dh) == browser.p256dh
    assert check_auth(browser.auth) == browser.auth
    with pytest.raises(ValueError, match="p256dh"):
        check_p256dh(browser.auth)
    with pytest.raises(ValueError, match="auth"):
        check_auth(browser.p256dh)
    with pytest.raises(ValueError, match="base64url"):
        check_auth("***")
