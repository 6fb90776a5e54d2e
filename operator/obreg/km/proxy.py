"""The forward proxy the Key Manager client goes through, from the standard variables:
``HTTPS_PROXY`` (or ``https_proxy``) names it, ``NO_PROXY`` (or ``no_proxy``) the hosts
reached directly. The KM is always HTTPS, so its requests go through a CONNECT tunnel
and TLS is still made with the KM itself, verified as without a proxy.

Decided here rather than by aiohttp's ``trust_env``: that also reads ``.netrc`` and
compares NO_PROXY with the host alone (urllib's proxy_bypass), so a ``host:port`` entry
never matches and an IP range cannot be given. NO_PROXY is read as curl and Go read it:
entries separated by commas (blanks around them ignored); ``*`` alone bypasses every
host; a host name matches itself and its subdomains, with or without a leading ``.`` or
``*.``; ``host:port`` only that port; an IP address itself, a CIDR range its addresses.
Lowercase variables win over uppercase ones, as with curl and urllib.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Proxy:
    """Where to tunnel through, without credentials (they go in ``headers``, never in a
    text an error may print)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def authority(self) -> str:
        return urlsplit(self.url).netloc


def _variable(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _entry(entry: str) -> tuple[str, int | None]:
    """An entry's host (lower case, no brackets, no leading dot or ``*.``) and port."""
    if entry.startswith("["):  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return host.lower(), int(port) if port.isdigit() else None
    host, colon, port = entry.rpartition(":")
    if not colon or ":" in host or not port.isdigit():  # no port, or a bare v6 address
        host = entry
        port = ""
    host = host.lower().removeprefix("*.").removeprefix(".")
    return host, int(port) if port else None


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether NO_PROXY's entries send ``host``:``port`` directly."""
    host = host.lower().strip("[]").rstrip(".")
    address = _address(host)
    for raw in no_proxy.split(","):
        entry = raw.strip()
        if entry == "*":
            return True
        if not entry:
            continue
        if address is not None and "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, only = _entry(entry)
        if only is not None and only != port:
            continue
        name = name.rstrip(".")
        if not name:
            continue
        if address is not None:
            if _address(name) == address:
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def choose(url: str, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy for the KM at ``url`` (https), or None: none set, or NO_PROXY bypasses
    it. A proxy named without a scheme is http://, as curl takes it."""
    setting = _variable(environ, "https_proxy")
    parts = urlsplit(url)
    if not setting or bypassed(
        parts.hostname or "", parts.port or 443, _variable(environ, "no_proxy")
    ):
        return None
    if "://" not in setting:
        setting = "http://" + setting
    proxy = urlsplit(setting)
    headers: dict[str, str] = {}
    if proxy.username is not None:
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    netloc = proxy.netloc.rpartition("@")[2]
    return Proxy(f"{proxy.scheme}://{netloc}", headers)
