"""The published digest says nothing of a Secret value (render/digest.py), yet still
changes exactly when a Secret-derived file does."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
import urllib3

from obreg.cli import main, render_manifests
from obreg.kube import digest_key
from obreg.kube.api import ApiError
from obreg.manifests import load
from obreg.render.bundle import Bundle
from tests.unit.test_secrets_stay_secret import STORE_PASSWORD, scenario

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
KEY = bytes(range(32))
# The review's attack: a short list of likely passwords, the right one among them.
WORDS = ["wso2carbon", "changeit", "Password1", STORE_PASSWORD, "Winter2026!"]


def _password(word: str) -> Any:
    def mutate(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            if doc["kind"] == "Secret" and doc["metadata"]["name"] == "store-client":
                doc["stringData"]["pw"] = word

    return mutate


def _scenario(folder: Path, mutate: Any = None) -> Path:
    folder.mkdir()
    return scenario(folder, mutate)


def _bundles(path: Path, key: bytes | None) -> dict[str, Bundle]:
    return {b.workload.name: b for b in render_manifests(load([path]), NOW, key).bundles}


def _what_an_attacker_computes(bundle: Bundle) -> set[str]:
    """Every digest one can compute from the files without the operator's key."""
    manifest = json.dumps([[f.path, f.secret, f.fingerprint] for f in bundle.files]).encode()
    return {
        hashlib.sha256(manifest).hexdigest(),
        hmac.new(b"", manifest, hashlib.sha256).hexdigest(),
        hmac.new(bytes(32), manifest, hashlib.sha256).hexdigest(),
        Bundle(bundle.namespace, bundle.workload, bundle.files).digest,  # unkeyed
    }


def test_a_password_cannot_be_guessed_from_the_published_digest(tmp_path: Path) -> None:
    published = {name: b.digest for name, b in _bundles(_scenario(tmp_path / "real"), KEY).items()}
    for word in WORDS:
        guess = _bundles(_scenario(tmp_path / word, _password(word)), None)
        for name, bundle in guess.items():
            assert published[name] not in _what_an_attacker_computes(bundle), word
    # The control: whoever holds the key and the password computes it.
    again = _bundles(_scenario(tmp_path / "again", _password(STORE_PASSWORD)), KEY)
    assert {name: b.digest for name, b in again.items()} == published


def test_under_one_key_a_secret_change_still_changes_the_digest(tmp_path: Path) -> None:
    before = _bundles(_scenario(tmp_path / "a"), KEY)
    same = _bundles(_scenario(tmp_path / "b"), KEY)
    after = _bundles(_scenario(tmp_path / "c", _password("another-password")), KEY)
    for name in before:
        assert before[name].digest == same[name].digest  # same input, same digest
    # Both truststores carry the password: both workloads roll, as their files changed.
    assert all(before[name].digest != after[name].digest for name in before)
    other_key = _bundles(_scenario(tmp_path / "d"), bytes(reversed(KEY)))
    assert all(before[name].digest != other_key[name].digest for name in before)


def test_unkeyed_digests_leave_secret_contents_out_but_cover_the_rest(tmp_path: Path) -> None:
    before = _bundles(_scenario(tmp_path / "a"), None)
    secret_changed = _bundles(_scenario(tmp_path / "b", _password("another")), None)
    assert {n: b.digest for n, b in before.items()} == {
        n: b.digest for n, b in secret_changed.items()
    }

    def new_algorithm(docs: list[dict[str, Any]]) -> None:
        """open-banking.xml comes from a ConfigMap: covered offline too."""
        for doc in docs:
            if doc["kind"] == "OBServiceProvider":
                doc["spec"]["signatureAlgorithm"] = "ES256"

    public_changed = _bundles(_scenario(tmp_path / "c", new_algorithm), None)
    assert before["wso2-apim"].digest != public_changed["wso2-apim"].digest


def test_render_says_when_its_digests_are_unkeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = scenario(tmp_path)
    assert main(["render", "-f", str(source), "-o", str(tmp_path / "out")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "digest" in line]
    assert lines and all(
        line.endswith("(unkeyed: Secret-derived contents not covered)") for line in lines
    )
    key = tmp_path / "key"
    key.write_bytes(KEY)
    assert (
        main(
            ["render", "-f", str(source), "-o", str(tmp_path / "o2"), "--digest-key-file", str(key)]
        )
        == 0
    )
    keyed = {
        line.split(":")[0]: line
        for line in capsys.readouterr().out.splitlines()
        if "digest" in line
    }
    expected = _bundles(source, KEY)
    for name, bundle in expected.items():
        line = keyed[f"{bundle.namespace}/{bundle.workload.kind}/{name}"]
        assert line.endswith(f"digest {bundle.digest[:16]}")


def test_a_short_digest_key_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"x" * 31)
    args = ["render", "-f", str(scenario(tmp_path)), "-o", str(tmp_path / "out")]
    assert main([*args, "--digest-key-file", str(key)]) == 1
    assert "holds 31 bytes; a digest key has at least 32" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main([*args, "--digest-key-file", str(tmp_path / "absent")]) == 1


def _secret(data: dict[str, str] | None) -> dict[str, Any]:
    return {"data": data} if data is not None else {}


@pytest.mark.parametrize(
    "data",
    [None, {}, {"key": "not base64!"}, {"key": base64.b64encode(b"k" * 31).decode()}],
)
def test_a_key_secret_obreg_could_not_have_made_is_refused(data: dict[str, str] | None) -> None:
    with pytest.raises(digest_key.DigestKeyError, match="delete the Secret"):
        digest_key.decode(_secret(data), "obreg", "obreg-digest-key")


def test_a_generated_key_reads_back() -> None:
    body = digest_key.body("obreg", "obreg-digest-key", KEY)
    assert digest_key.decode(body, "obreg", "obreg-digest-key") == KEY
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "obreg"}


def test_the_key_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "obreg-system")
    assert digest_key.location("") == ("obreg-system", "obreg-digest-key")
    assert digest_key.location("mine") == ("obreg-system", "mine")
    assert digest_key.location("vault/mine") == ("vault", "mine")


class _Plane:
    """An API server that answers ``failures`` (an exception each) before it works."""

    def __init__(self, failures: list[Exception], stored: dict[str, Any] | None = None) -> None:
        self.failures, self.stored, self.created = failures, stored, 0

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if self.failures:
            raise self.failures.pop(0)
        return self.stored

    async def create(self, obj: dict[str, Any]) -> bool:
        self.created += 1
        self.stored = obj
        return True


def _load(plane: _Plane) -> tuple[bytes, list[float]]:
    waited: list[float] = []

    async def wait(seconds: float) -> None:
        waited.append(seconds)

    key = asyncio.run(digest_key.load(plane, "obreg", "obreg-digest-key", wait))  # type: ignore[arg-type]
    return key, waited


def test_an_api_server_away_or_busy_at_start_is_waited_for() -> None:
    """The fault tier's case: obreg started while the API server throttles or is down
    must come up when it answers, as kopf does, not exit as an internal error."""
    busy = ApiError("get", "Secret obreg/obreg-digest-key", 429, "Too Many Requests")
    away = urllib3.exceptions.MaxRetryError(None, "/api", reason=None)  # type: ignore[arg-type]
    plane = _Plane([busy, away, ConnectionRefusedError()])
    key, waited = _load(plane)
    assert len(key) == 32 and plane.created == 1
    assert waited == [1.0, 2.0, 4.0]


def test_a_refusal_at_start_is_waited_out_for_a_while_then_stops_with_its_reason() -> None:
    """An API server just started refuses until its authorizer has read RBAC (the fault
    tier restarts it under a running obreg): a short 403 is waited out, a lasting one is
    taken at its word."""
    forbidden = ApiError("get", "Secret obreg/obreg-digest-key", 403, "Forbidden")
    plane = _Plane([forbidden, forbidden])
    key, waited = _load(plane)
    assert len(key) == 32 and waited == [1.0, 2.0]
    with pytest.raises(digest_key.DigestKeyError, match="grant obreg get and create"):
        _load(_Plane([forbidden] * 100))
    unknown = ApiError("get", "Secret obreg/obreg-digest-key", 400, "Bad Request")
    with pytest.raises(digest_key.DigestKeyError):
        _load(_Plane([unknown]))


def test_a_kept_key_is_read_not_made_again() -> None:
    plane = _Plane([], digest_key.body("obreg", "obreg-digest-key", KEY))
    assert _load(plane) == (KEY, []) and plane.created == 0
