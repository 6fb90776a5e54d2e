"""``obreg render`` end to end on the samples: layout, placement and determinism."""

from __future__ import annotations

import base64
import filecmp
import importlib.metadata
import io
import re
from pathlib import Path

import pytest
import yaml

from obreg.cli import EXIT_INTERNAL, EXIT_REFUSED, EXIT_USAGE, main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
KM = [
    "repository/conf/claim-config.xml",
    "repository/conf/identity/identity-providers/OBDirectory.xml",
    "repository/conf/identity/identity.xml",
    "repository/conf/identity/oidc-scope-config.xml",
    "repository/conf/identity/service-providers/apim_store_ob.xml",
    "repository/resources/security/client-truststore.jks",
]
APIM = [
    "repository/conf/api-manager.xml",
    "repository/conf/finance/open-banking.xml",
    "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery/locale_default.json",
    "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery/locale_en.json",
    "repository/deployment/server/jaggeryapps/store/site/conf/site.json",
    "repository/resources/security/client-truststore.jks",
]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert main(["render", "-f", str(SAMPLES), "-o", str(out)]) == 0
    return out


def test_layout(rendered: Path) -> None:
    ns = rendered / "obreg-demo"
    # Beside each truststore, its listing for review (in neither object).
    listing = "repository/resources/security/client-truststore.jks.txt"
    assert files_under(ns / "wso2-km") == sorted([*KM, listing, "obreg-objects.yaml"])
    assert files_under(ns / "wso2-apim") == sorted([*APIM, listing, "obreg-objects.yaml"])
    # Generated credentials are the operator's to make: the render writes no Secret for them.
    assert sorted(p.name for p in ns.iterdir()) == ["wso2-apim", "wso2-km"]


def test_objects_place_secret_files_in_the_secret(rendered: Path) -> None:
    config_map, secret = yaml.safe_load_all(
        (rendered / "obreg-demo" / "wso2-apim" / "obreg-objects.yaml").read_text()
    )
    assert config_map["kind"] == "ConfigMap" and secret["kind"] == "Secret"
    assert config_map["metadata"]["name"] == secret["metadata"]["name"] == "obreg-wso2-apim"
    site_key = APIM[4].replace("/", "__")
    assert list(secret["data"]) == [site_key]
    assert set(config_map["data"]) | set(config_map["binaryData"]) == {
        p.replace("/", "__") for p in APIM if p != APIM[4]
    }
    # The object's content is the file's content.
    site = rendered / "obreg-demo" / "wso2-apim" / APIM[4]
    assert base64.b64decode(secret["data"][site_key]) == site.read_bytes()
    assert oct(site.stat().st_mode & 0o777) == "0o600"
    km_cm, km_secret = yaml.safe_load_all(
        (rendered / "obreg-demo" / "wso2-km" / "obreg-objects.yaml").read_text()
    )
    # The IdP file (client secret) and the SP file (client id, read from a Secret).
    assert list(km_secret["data"]) == [KM[1].replace("/", "__"), KM[4].replace("/", "__")]
    assert (
        km_cm["metadata"]["annotations"]["obreg.dev/digest"]
        == km_secret["metadata"]["annotations"]["obreg.dev/digest"]
    )


def test_same_input_same_bytes(tmp_path: Path, rendered: Path) -> None:
    # Generated credentials are shown as stable placeholders, so every render is the same.
    again = tmp_path / "again"
    assert main(["render", "-f", str(SAMPLES), "-o", str(again)]) == 0
    for workload in ("wso2-km", "wso2-apim"):
        left, right = rendered / "obreg-demo" / workload, again / "obreg-demo" / workload
        names = files_under(left)
        assert names == files_under(right)
        match, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
        assert mismatch == [] and errors == []


def test_manifests_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rendered: Path
) -> None:
    text = "\n---\n".join(p.read_text() for p in sorted(SAMPLES.glob("*.yaml")))
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    out = tmp_path / "from-stdin"
    assert main(["render", "-f", "-", "-o", str(out)]) == 0
    assert files_under(out) == files_under(rendered)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    version = re.escape(importlib.metadata.version("obreg"))
    # The commit: baked into a release, else the checkout's HEAD (test_release.py).
    assert re.fullmatch(
        rf"obreg {version} \(commit [0-9a-f]{{40}}(-dirty)?\)\n", capsys.readouterr().out
    )


def test_exit_codes_tell_refused_input_from_usage_and_internal_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    assert main(["render", "-f", str(bad), "-o", str(tmp_path / "a")]) == EXIT_REFUSED
    with pytest.raises(SystemExit) as exited:
        main(["render", "-o", str(tmp_path / "b")])
    assert exited.value.code == EXIT_USAGE

    def broken(*_: object) -> None:
        raise RuntimeError("a bug holding sample-secret-value")

    monkeypatch.setattr("obreg.render.bundle.render", broken)
    capsys.readouterr()
    assert main(["render", "-f", str(SAMPLES), "-o", str(tmp_path / "c")]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error, please report: RuntimeError at" in err
    assert "sample-secret-value" not in err  # an exception's text may quote input
    assert not (tmp_path / "c").exists()


def test_output_replaces_an_earlier_render_whole(tmp_path: Path, rendered: Path) -> None:
    stale = rendered / "obreg-demo" / "wso2-gone" / "file"
    stale.parent.mkdir()
    stale.write_text("from an earlier render")
    assert main(["render", "-f", str(SAMPLES), "-o", str(rendered)]) == 0
    assert not stale.exists()
    assert (rendered / ".obreg-render").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind


def test_output_never_replaces_a_folder_obreg_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("mine")
    assert main(["render", "-f", str(SAMPLES), "-o", str(home)]) == EXIT_REFUSED
    assert "holds files that obreg render did not write" in capsys.readouterr().err
    assert sorted(p.name for p in home.iterdir()) == [".bashrc"]
    link = tmp_path / "link"
    link.symlink_to(home)
    assert main(["render", "-f", str(SAMPLES), "-o", str(link)]) == EXIT_REFUSED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "link"]


def test_a_refused_render_leaves_the_earlier_output_as_it_was(
    tmp_path: Path, rendered: Path
) -> None:
    before = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()}
    docs = [
        d for p in sorted(SAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    next(d for d in docs if d["kind"] == "OBServiceProvider")["spec"]["signatureAlgorithm"] = "x"
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    assert main(["render", "-f", str(manifest), "-o", str(rendered)]) == EXIT_REFUSED
    assert {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()} == before


def test_only_files_without_a_secret_are_readable_by_others(rendered: Path) -> None:
    for path in rendered.rglob("*"):
        if path.is_file() and path.name != ".obreg-render":
            mode = path.stat().st_mode & 0o777
            secret = path.name in (
                "obreg-objects.yaml",
                "site.json",
                "OBDirectory.xml",
                "apim_store_ob.xml",
            )
            assert mode == (0o600 if secret else 0o644), path


def test_output_into_the_current_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["render", "-f", str(SAMPLES), "-o", "."]) == 0
    assert (here / ".obreg-render").is_file() and (here / "obreg-demo" / "wso2-km").is_dir()
    assert main(["render", "-f", str(SAMPLES), "-o", "."]) == 0  # and again, replaced
