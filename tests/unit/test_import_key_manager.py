"""The admin credentials Secret as `obreg import --key-manager-credentials` takes it: the
manifest its owner writes, read into the Secret the import writes (so placeholders can
stand in for it and the operator may read it), or refused without echoing a value."""

from __future__ import annotations

import base64

import pytest
import yaml

from obreg.errors import InvalidInput
from obreg.importing.key_manager import credentials_secret
from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION
from obreg.render.inputs import INPUT_LABEL

HOSTS = {ALLOWED_HOSTS_ANNOTATION: "km.bank.example:9443"}


def manifest(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "km-admin", "annotations": HOSTS, "labels": {"team": "iam"}},
        "data": {
            "username": base64.b64encode(b"admin").decode(),
            "password": base64.b64encode(b"pw-by-hand").decode(),
        },
        **changes,
    }
    return yaml.safe_dump(obj).encode()


def test_the_owners_secret_is_kept_and_marked_as_an_input() -> None:
    secret = credentials_secret(manifest(), "bank")
    assert secret["metadata"] == {
        "name": "km-admin",
        "namespace": "bank",
        "labels": {"team": "iam", INPUT_LABEL: "true"},
        "annotations": HOSTS,
    }
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["stringData"] == {"username": "admin", "password": "pw-by-hand"}
    given = credentials_secret(
        manifest(data=None, stringData={"username": "a", "password": "b"}), "bank"
    )
    assert given["stringData"] == {"username": "a", "password": "b"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "ConfigMap"}, "is not a Secret manifest"),
        ({"metadata": {"namespace": "bank"}}, "names no Secret (metadata.name)"),
        ({"metadata": {"name": "a", "namespace": "x"}}, "is not in the namespace bank (-n)"),
        ({"data": {"username": "YWRtaW4="}}, "has no password"),
        ({"data": {"username": "YWRtaW4=", "password": "pw-by-hand!"}}, "data.password is not"),
    ],
)
def test_a_manifest_obreg_cannot_use_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        credentials_secret(manifest(**changes), "bank")
    text = str(refused.value.problems[0])
    assert text.startswith("--key-manager-credentials: -: ") and message in text
    assert "pw-by-hand" not in text
