"""What obreg keeps of a Secret or ConfigMap (obreg/rules/holdings.py's summary), read on
every event."""

from __future__ import annotations

import base64

from obreg.rules.holdings import Held, summary


def test_a_secret_is_kept_decoded_with_its_string_data_over_its_data() -> None:
    secret = {
        "metadata": {
            "labels": {"a": "b"},
            "annotations": {"obreg.dev/x": "1", "kubectl.kubernetes.io/last-applied": "{...}"},
            "ownerReferences": [{"uid": "u-1"}, {"uid": "u-2"}],
            "resourceVersion": "42",
        },
        "data": {"k": base64.b64encode(b"\x00bytes").decode(), "both": "b2xk"},
        "stringData": {"both": "new", "n": 7},
    }
    assert summary("Secret", secret) == Held(
        data={"k": b"\x00bytes", "both": b"new", "n": b"7"},
        labels={"a": "b"},
        annotations={"obreg.dev/x": "1"},
        owners=("u-1", "u-2"),
        resource_version="42",
    )


def test_a_config_map_is_kept_with_its_binary_data_decoded() -> None:
    config_map = {
        "metadata": {},
        "data": {"text": "plain"},
        "binaryData": {"bin": base64.b64encode(b"\xff").decode()},
        "stringData": {"ignored": "a ConfigMap has none"},
    }
    assert summary("ConfigMap", config_map) == Held(
        data={"text": b"plain", "bin": b"\xff"}, labels={}, annotations={}, owners=()
    )
