"""Where the KM admin credentials may go: only to hosts their Secret's owner lists
(km/destination.py). Offline: a wrong answer here sends a Secret's password anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION, authority, permitted


def allows(entries: str, url: str) -> bool:
    return permitted({ALLOWED_HOSTS_ANNOTATION: entries}, url)


@pytest.mark.parametrize(
    ("entries", "url", "expected"),
    [
        ("km.bank.example", "https://km.bank.example:9443/services", True),  # any port
        ("km.bank.example:9443", "https://km.bank.example:9443/", True),
        ("km.bank.example:9443", "https://km.bank.example:8443/", False),
        ("km.bank.example:443", "https://km.bank.example/", True),  # the default port
        ("KM.Bank.Example", "https://km.BANK.example:9443", True),  # no case
        (" other.example , km.bank.example:9443 ", "https://km.bank.example:9443", True),
        ("[::1]:9443", "https://[::1]:9443/", True),
        ("km.bank.example", "https://km.bank.example.attacker.test:9443/", False),
        ("bank.example", "https://km.bank.example:9443/", False),  # no subdomains
        ("km.bank.example", "https://km.bank.example@attacker.test/", False),  # userinfo
        ("km.bank.example:notaport", "https://km.bank.example/", False),  # malformed
        ("km.bank.example:99999", "https://km.bank.example/", False),
        ("", "https://km.bank.example/", False),
        (",", "https://km.bank.example/", False),
        ("km.bank.example", "https:///no-host", False),
        # Defaults of empty parts never match a host: a malformed entry, no hostname.
        ("xxxx:notaport", "https://xxxx/", False),
        ("xxxx:99999", "https://xxxx:443/", False),
        (":9443", "https://xxxx:9443/", False),
        ("km.bank.example other.example", "https://km.bank.example/", False),  # commas only
    ],
)
def test_only_listed_hosts_and_ports_are_permitted(entries: str, url: str, expected: bool) -> None:
    assert allows(entries, url) is expected


def test_a_secret_without_the_annotation_permits_nothing() -> None:
    assert not permitted({}, "https://km.bank.example:9443")
    assert not permitted({"other": "km.bank.example"}, "https://km.bank.example:9443")


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_HOST = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_PORT = st.integers(1, 65535)


@given(_HOST, _PORT)
def test_the_authority_of_a_url_permits_that_url(host: str, port: int) -> None:
    """What ``authority`` names (the README's example and docs/security.md tell owners to
    write that) is an entry that allows the URL it came from."""
    url = f"https://{host}:{port}/services/"
    assert allows(authority(url), url)


@given(_HOST, _HOST, _PORT)
def test_one_host_never_permits_another(listed: str, asked: str, port: int) -> None:
    if listed != asked:
        assert not allows(listed, f"https://{asked}:{port}/")
        assert not allows(f"{listed}:{port}", f"https://{asked}:{port}/")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://km.bank.example:9443/services", "km.bank.example:9443"),
        ("https://km.bank.example/", "km.bank.example:443"),
        ("https://[::1]:9443/", "[::1]:9443"),
        ("https://[2001:db8::1]/", "[2001:db8::1]:443"),
    ],
)
def test_a_urls_authority_is_named_as_an_entry_would_name_it(url: str, named: str) -> None:
    assert authority(url) == named
