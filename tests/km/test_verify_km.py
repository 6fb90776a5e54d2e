"""hack/verify-km, run as a user would, against the contract double: it reads back what
obreg made, says what differs, never writes, and never prints a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import kmdouble
from tests.km.calls import WANT, converge

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "km-admin-pw"


@pytest.fixture
def km() -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    double, ca = kmdouble.new(password=PASSWORD)
    yield double, ca
    double.stop()


def verify_km(km: tuple[kmdouble.KmDouble, bytes], tmp_path: Path, *extra: str) -> tuple[int, str]:
    double, ca = km
    (tmp_path / "ca.pem").write_bytes(ca)
    (tmp_path / "password").write_text(PASSWORD)
    (tmp_path / "secret").write_text(WANT.app.client_secret)
    result = subprocess.run(
        [
            str(ROOT / "hack" / "verify-km"),
            "-f", str(ROOT / "samples" / "service-provider.yaml"),
            "--url", double.url,
            "--username", "admin",
            "--password-file", str(tmp_path / "password"),
            "--ca", str(tmp_path / "ca.pem"),
            "--server-name", "localhost",
            "--client-id", WANT.app.client_id,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        # The interpreter running the tests has obreg's dependencies, wherever it lives.
        env={**os.environ, "OBREG_PYTHON": sys.executable},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_in_place_after_obreg_and_differences_named(
    km: tuple[kmdouble.KmDouble, bytes], tmp_path: Path
) -> None:
    double, _ = km
    status, out = verify_km(km, tmp_path)
    assert status == 1
    assert "MISSING OAuth app with client id store-client-id" in out
    assert "DIFFERS obreg would send: registered OAuth app apim_store_ob" in out

    converge(km)  # what obreg does: the manifest's store URL is the sample's, as WANT's
    writes = len(double.writes())
    secret_file = str(tmp_path / "secret")
    status, out = verify_km(km, tmp_path, "--client-secret-file", secret_file)
    assert status == 0, out
    assert "OK      the Key Manager holds what obreg would make" in out
    assert "found   OIDC claim tpp_associated -> http://wso2.org/claims/active" in out
    assert len(double.writes()) == writes, "verify-km only reads"
    for secret in (PASSWORD, WANT.app.client_secret):
        assert secret not in out
    for fact in (
        "the read by key leaves out backChannelLogoutUrl, username, state",
        "an unknown consumer key is the fault 'Error while retrieving the app information "
        "using consumerKey: {consumerKey}'",
    ):
        assert f"fact    {fact}: as the contract says" in out
    assert "fact    client secrets are kept unhashed" in out
    assert "fact    scope openid is listed by getScopes" in out

    double.hash_secrets = True
    double.db.scopes["openid"] = []
    status, out = verify_km(km, tmp_path)
    assert "fact    client secret hashing is ON" in out
    assert "fact    scope openid exists without claims" in out
    double.hash_secrets = False
    double.db.scopes["openid"] = ["sub", "tpp_associated"]

    double.db.scopes["openid"].remove("tpp_associated")
    status, out = verify_km(km, tmp_path)
    assert status == 1
    assert "MISSING tpp_associated in scope openid" in out
    assert "note    client secret not checked" in out


def test_unreachable_km_exits_2(km: tuple[kmdouble.KmDouble, bytes], tmp_path: Path) -> None:
    km[0].stop()
    status, out = verify_km(km, tmp_path, "--timeout", "2")
    assert status == 2
    assert "cannot check the Key Manager" in out and "cannot reach" in out
