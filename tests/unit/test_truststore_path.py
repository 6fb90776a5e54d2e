"""A trust anchor's output names a truststore, never another product file (api/names.py)."""

from __future__ import annotations

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from obreg.api.trust_anchor import TruststoreOutput

_SEGMENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True).filter(
    lambda s: "__" not in s
)
_FOLDERS = st.sampled_from(
    ["repository/resources/security", "repository/conf", "bin", "repository/resources", "lib"]
)
_ENDINGS = st.sampled_from(
    ["truststore.jks", "truststore.p12", ".jks", ".p12", "truststore.jks.sh", "Truststore.jks"]
)


def _accepted(path: str, format: str) -> bool:
    try:
        TruststoreOutput(path=path, format=format)
    except pydantic.ValidationError:
        return False
    return True


@given(_FOLDERS, st.lists(_SEGMENT, max_size=2), _SEGMENT, _ENDINGS)
def test_only_truststores_directly_in_the_security_folder(
    folder: str, sub: list[str], stem: str, ending: str
) -> None:
    path = "/".join([folder, *sub, stem + ending])
    format = "PKCS12" if path.endswith(".p12") else "JKS"
    expected = (
        folder == "repository/resources/security"
        and not sub
        and ending in ("truststore.jks", "truststore.p12")
        and len(path) <= 253
    )
    assert _accepted(path, format) == expected, path


@pytest.mark.parametrize(
    "path",
    [
        "repository/resources/security/wso2carbon.jks",  # the primary keystore: private keys
        "repository/resources/security/userRSA.jks",
        "repository/conf/deployment.toml",
        "bin/wso2server.sh",
        "repository/resources/security/client-truststore.jks/x-truststore.jks",
        "repository/resources/security/../security/client-truststore.jks",
    ],
)
def test_product_files_are_refused(path: str) -> None:
    assert not _accepted(path, "JKS")


def test_the_extension_says_the_format() -> None:
    assert _accepted("repository/resources/security/ob-truststore.p12", "PKCS12")
    assert not _accepted("repository/resources/security/ob-truststore.p12", "JKS")
    assert not _accepted("repository/resources/security/ob-truststore.jks", "PKCS12")
    assert TruststoreOutput(format="PKCS12").resolved_path.endswith("client-truststore.p12")
