"""The KM client through a forward proxy: HTTPS_PROXY sends every call through a CONNECT
tunnel (TLS still made with the KM and verified), NO_PROXY's entries send the KM's calls
directly, and a proxy that is down or refuses is a KM that cannot be reached."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from obreg.km import proxy
from obreg.km.client import KmError
from testbed import kmdouble
from tests.km.calls import converge
from tests.km.connect_proxy import ConnectProxy
from tests.km.test_key_manager_pass import Pass


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password="km-admin-pw")
    yield double, ca
    double.stop()


@pytest.fixture
def tunnel() -> Iterator[ConnectProxy]:
    forwarding = ConnectProxy().start()
    yield forwarding
    forwarding.stop()


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets what it needs; none comes from the machine running the tests."""
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_a_pass_goes_through_the_proxy(
    km: tuple[kmdouble.KmDouble, bytes],
    tunnel: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    double, ca = km
    monkeypatch.setenv(variable, tunnel.url)
    steps = Pass(double, ca, password="km-admin-pw")
    assert steps.run(force=False) is False
    assert steps.written[-1]["keyManagerDatabase"]["state"] == "Synced"
    assert tunnel.tunnels, "no tunnel opened"
    assert set(tunnel.tunnels) == {f"127.0.0.1:{double.port}"}
    assert double.calls, "the calls reached the KM through the tunnels"


@pytest.mark.parametrize(
    "entries",
    ["127.0.0.1", "*", "127.0.0.0/8", "{port}", " km.example , 127.0.0.1 ", "[127.0.0.1]"],
)
def test_no_proxy_sends_the_km_directly(
    km: tuple[kmdouble.KmDouble, bytes],
    tunnel: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
    entries: str,
) -> None:
    double, ca = km
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    monkeypatch.setenv("no_proxy", entries.replace("{port}", f"127.0.0.1:{double.port}"))
    steps = Pass(double, ca, password="km-admin-pw")
    assert steps.run(force=False) is False
    assert steps.written[-1]["keyManagerDatabase"]["state"] == "Synced"
    assert tunnel.tunnels == []


def test_an_entry_for_another_port_or_host_still_tunnels(
    km: tuple[kmdouble.KmDouble, bytes], tunnel: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    double, _ = km
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{double.port + 1},10.0.0.0/8,.0.0.1")
    assert len(converge(km)) == 3
    assert tunnel.tunnels


def test_tls_through_the_tunnel_is_verified_with_the_kms_ca(
    km: tuple[kmdouble.KmDouble, bytes], tunnel: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    double, _ = km
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    other_ca, _, _ = kmdouble.certificates()
    with pytest.raises(KmError) as untrusted:
        converge(km, ca=other_ca)
    assert untrusted.value.kind == "protocol"
    assert "TLS certificate is not trusted" in str(untrusted.value)
    assert tunnel.tunnels and double.calls == []


def test_a_proxy_that_wants_credentials_gets_them_from_the_url_and_never_shows_them(
    km: tuple[kmdouble.KmDouble, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    double, _ = km
    guarded = ConnectProxy(credentials=("proxy-user", "proxy-pass:word")).start()
    try:
        monkeypatch.setenv(
            "HTTPS_PROXY", f"http://proxy-user:proxy-pass%3Aword@127.0.0.1:{guarded.port}"
        )
        assert len(converge(km)) == 3
        assert guarded.tunnels and guarded.refused == 0
        monkeypatch.setenv("HTTPS_PROXY", f"http://proxy-user:wrong-pass@127.0.0.1:{guarded.port}")
        with pytest.raises(KmError) as refused:
            converge(km)
    finally:
        guarded.stop()
    assert refused.value.kind == "unavailable"
    assert f"through the proxy 127.0.0.1:{guarded.port}" in str(refused.value)
    assert "the proxy refused the tunnel (HTTP 407)" in str(refused.value)
    assert "wrong-pass" not in str(refused.value) and "proxy-user" not in str(refused.value)


def test_a_proxy_that_is_down_is_a_km_that_cannot_be_reached(
    km: tuple[kmdouble.KmDouble, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    double, _ = km
    down = ConnectProxy().start()
    down.stop()
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{down.port}")  # no scheme: http://
    with pytest.raises(KmError) as unreachable:
        converge(km)
    assert unreachable.value.kind == "unavailable"
    assert f"through the proxy 127.0.0.1:{down.port}" in str(unreachable.value)
    assert double.calls == []


# -- NO_PROXY's matching, apart from any connection -------------------------------------

LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@given(host=st.lists(LABEL, min_size=1, max_size=4).map(".".join), port=st.integers(1, 65535))
def test_a_host_entry_matches_itself_and_its_subdomains_only(host: str, port: int) -> None:
    for entry in (host, f".{host}", f"*.{host}", host.upper(), f"{host}:{port}"):
        assert proxy.bypassed(host, port, entry), entry
        assert proxy.bypassed(f"km.{host}", port, entry), entry
        assert not proxy.bypassed(f"not{host}", port, entry), entry
        assert not proxy.bypassed(f"{host}.evil", port, entry), entry
    assert not proxy.bypassed(host, port, f"{host}:{port % 65535 + 1}")
    assert proxy.bypassed(host, port, "*") and not proxy.bypassed(host, port, "")


@given(address=st.ip_addresses(), prefix=st.integers(0, 128))
def test_an_address_entry_matches_by_address_and_a_range_by_membership(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int
) -> None:
    host = str(address)
    network = ipaddress.ip_network(f"{host}/{min(prefix, address.max_prefixlen)}", strict=False)
    assert proxy.bypassed(host, 443, str(network))
    assert proxy.bypassed(host, 443, host) and proxy.bypassed(f"[{host}]", 443, f"[{host}]:443")
    top = (1 << address.max_prefixlen) - 1
    if int(network.broadcast_address) < top:
        assert not proxy.bypassed(str(network.broadcast_address + 1), 443, str(network))
    if int(network.network_address) > 0:
        assert not proxy.bypassed(str(network.network_address - 1), 443, str(network))


def test_the_proxy_is_chosen_from_the_variables() -> None:
    url = "https://km.bank.example:9446"
    assert proxy.choose(url, {}) is None
    chosen = proxy.choose(url, {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "lower:3128"})
    assert chosen == proxy.Proxy("http://lower:3128"), "lowercase wins, as with curl"
    assert proxy.choose(url, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "bank.example"}) is None
    assert proxy.choose(url, {"HTTP_PROXY": "http://p:3128"}) is None, "the KM is https"
    with_user = proxy.choose(url, {"HTTPS_PROXY": "http://u%40x:p%3A@p:3128"})
    assert with_user is not None and with_user.url == "http://p:3128"
    assert with_user.headers == {"Proxy-Authorization": "Basic dUB4OnA6"}
