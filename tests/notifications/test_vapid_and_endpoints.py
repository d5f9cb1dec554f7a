"""The VAPID key file and what a subscription must look like."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from forexbot.errors import ConfigError
from forexbot.notifications.endpoints import EndpointPolicy, check_auth, check_p256dh
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
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=BQY",
        "https://FCM.googleapis.com./fcm/send/abc",
    ],
)
def test_the_browsers_push_services_are_accepted_by_default(url: str) -> None:
    assert EndpointPolicy().check(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/x",
        "https://192.168.1.1:9093/-/quit",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://fcm.googleapis.com.evil.example/x",
        "https://evilfcm.googleapis.com.example/x",
        "https://127.0.0.1:9090/-/quit",
    ],
)
def test_hosts_that_are_not_push_services_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a known push service"):
        EndpointPolicy().check(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        # urllib.parse reads fcm.googleapis.com, requests/urllib3 connect to 127.0.0.1:9090
        ("https://127.0.0.1:9090\\@fcm.googleapis.com/x", "characters"),
        ("https://user:pw@fcm.googleapis.com/x", "user name"),
        ("https://127.0.0.1@fcm.googleapis.com/x", "user name"),
        ("https://fcm.googleapis.com:8443/x", "port 443"),
        ("https://fcm.googleapis.com/a b", "characters"),
        ("https://fcm.googleapis.com/x\ty", "characters"),
        ("https://fcm.googleapis.com/x\nHost: evil", "characters"),
    ],
)
def test_endpoints_that_parsers_could_read_as_another_host_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        EndpointPolicy().check(url)


def test_a_push_host_the_operator_adds_is_accepted_with_its_subdomains() -> None:
    policy = EndpointPolicy(push_hosts=("push.example.org",))
    assert policy.check("https://eu.push.example.org/p/1") == "https://eu.push.example.org/p/1"
    with pytest.raises(ValueError, match="not a known push service"):
        policy.check("https://fcm.googleapis.com/fcm/send/abc")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/push/1", "http://[::1]/p"])
def test_plain_http_on_loopback_only_when_allowed(url: str) -> None:
    assert EndpointPolicy(allow_loopback=True).check(url) == url
    with pytest.raises(ValueError, match="https"):
        EndpointPolicy().check(url)


@pytest.mark.parametrize(
    "url", ["http://push.example.com/x", "ftp://127.0.0.1/x", "/relative", "https://"]
)
def test_plain_http_elsewhere_and_non_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        EndpointPolicy(allow_loopback=True).check(url)


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
