"""Where the Key Manager admin credentials may be sent: only to hosts that the owner of
their Secret lists on it.

Whoever may write an OBServiceProvider chooses ``keyManagerAdmin.url`` and names
``credentialsSecret``; without this rule they could have obreg send any Secret's
``username`` and ``password`` of that namespace to any host they like. The Secret's
annotation ``obreg.dev/key-manager-hosts`` is written by whoever owns the Secret, so that
person decides: a comma-separated list of ``host`` (any port) or ``host:port`` entries,
compared without case (IPv6 addresses in brackets, as in URLs).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOWED_HOSTS_ANNOTATION = "obreg.dev/key-manager-hosts"


def _host_port(authority: str) -> tuple[str, int | None]:
    parts = urlsplit(f"https://{authority.strip()}")
    try:
        port = parts.port
    except ValueError:  # a malformed entry allows nothing
        return "", None
    return (parts.hostname or "").lower(), port


def permitted(annotations: Mapping[str, str], url: str) -> bool:
    """Whether the Secret with these annotations allows its credentials to go to ``url``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or 443
    if not host:
        return False
    for entry in annotations.get(ALLOWED_HOSTS_ANNOTATION, "").split(","):
        allowed_host, allowed_port = _host_port(entry)
        if allowed_host == host and allowed_port in (None, port):
            return True
    return False


def authority(url: str) -> str:
    """``host:port`` of a URL, as an entry of the annotation would name it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port or 443}"
