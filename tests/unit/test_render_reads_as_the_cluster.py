"""``obreg render`` reads manifests as the cluster would take them: an object defined
twice is refused (or, asked for, the last wins as with ``kubectl apply``), a misspelt
kind of obreg's group is refused, YAML with a key twice is refused at its line, folders
are read as kubectl reads them and never obreg's own output, base64 as the API server
reads it."""

from __future__ import annotations

import base64
import copy
import io
import shutil
from pathlib import Path

import jks
import pytest
import yaml

from obreg.cli import EXIT_REFUSED, main
from tests.bad_inputs import SAMPLES, anchor, find, sample_documents
from tests.pki import issue

ROGUE = issue("Rogue CA").pem.decode()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["render", *args])
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    return code, captured.out, captured.err


def aliases(out: Path, workload: str = "wso2-km") -> list[str]:
    store = out / "obreg-demo" / workload / "repository/resources/security/client-truststore.jks"
    return sorted(jks.KeyStore.loads(store.read_bytes(), "wso2carbon").certs)


def base_and_overlay(root: Path) -> tuple[Path, Path]:
    """The samples as a base, and an overlay redefining the trust anchor with a rogue
    CA in place of the issuing CA (as a kustomize layout keeps them on disk)."""
    base, overlay = root / "base", root / "overlays" / "prod"
    shutil.copytree(SAMPLES, base)
    overlay.mkdir(parents=True)
    docs = sample_documents()
    changed = copy.deepcopy(find(docs, "OBTrustAnchor"))
    changed["spec"]["certificates"][1] = {"alias": "rogue", "inline": ROGUE}
    (overlay / "trust-anchor.yaml").write_text(yaml.safe_dump(changed))
    return base, overlay


def test_an_object_defined_twice_is_refused_naming_both_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_and_overlay(tmp_path / "repo")
    code, _, err = run(capsys, "-R", "-f", str(tmp_path / "repo"), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert (
        "OBTrustAnchor obreg-demo/ob-directory-cas: metadata.name: defined twice: "
        f"{tmp_path}/repo/base/trust-anchor.yaml document 1 (line 3) and "
        f"{tmp_path}/repo/overlays/prod/trust-anchor.yaml document 1 (line 1)"
    ) in err
    assert "--last-wins" in err
    assert not (tmp_path / "out").exists()


def test_with_last_wins_only_the_last_definition_is_rendered_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, overlay = base_and_overlay(tmp_path / "repo")
    out = tmp_path / "out"
    args = ["--last-wins", "-f", str(base), "-f", str(overlay), "-o", str(out)]
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    # Not the union of both: the base's tppissuer is gone, as kubectl apply leaves it.
    assert aliases(out) == ["rogue", "samplestockca", "tpproot"]
    assert "defined twice; the last, " in err and "overlays/prod/trust-anchor.yaml" in err
    assert "defined twice" not in stdout


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_secrets_and_config_maps_defined_twice_are_refused_too(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    twice = copy.deepcopy(find(docs, kind))
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all([*docs, twice]))
    code, _, err = run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    name = twice["metadata"]["name"]
    assert f"{kind} obreg-demo/{name}: metadata.name: defined twice: {manifest} document " in err


def test_the_same_name_in_another_group_or_namespace_is_another_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    other = copy.deepcopy(find(docs, "Secret"))
    other["metadata"]["namespace"] = "elsewhere"
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": copy.deepcopy(find(docs, "Secret")["metadata"]),
        "spec": {"encryptedData": {"client-secret": "AgB4..."}},
    }
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all([*docs, other, sealed]))
    assert run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))[0] == 0


def test_a_misspelt_kind_of_obregs_group_is_refused_with_the_closest_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    find(docs, "OBTrustAnchor")["kind"] = "OBTrustAnchr"
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code, _, err = run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert "OBTrustAnchr obreg-demo/ob-directory-cas: kind: is not a kind of obreg.dev" in err
    assert "(did you mean OBTrustAnchor?)" in err


def test_manifests_without_obreg_resources_are_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "in.yaml"
    manifest.write_text((SAMPLES / "workloads.yaml").read_text())
    code, _, err = run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert "-f: holds no obreg.dev resources" in err and "--allow-empty" in err
    code, _, err = run(capsys, "--allow-empty", "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == 0, err


def test_a_key_twice_in_a_mapping_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SAMPLES / "identity-provider.yaml").read_text()
    # The client secret given twice: yaml would keep the last silently.
    text = text.replace(
        "  client-secret: sample-directory-client-secret-not-real\n",
        "  client-secret: sample-directory-client-secret-not-real\n  client-secret: other\n",
    )
    manifest = tmp_path / "in.yaml"
    manifest.write_text(text)
    line = text.splitlines().index("  client-secret: other") + 1
    code, _, err = run(capsys, "--allow-empty", "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert f"in.yaml: line {line}: the key 'client-secret' again (first at line {line - 1})" in err


def test_files_concatenated_without_a_separator_are_told_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # cat a.yaml b.yaml | obreg render -f -, where the files have no '---'
    first = (SAMPLES / "workloads.yaml").read_text().split("---")[0]
    second = (SAMPLES / "ob-directory-cas.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(first + second))
    code, _, err = run(capsys, "-f", "-", "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert "the key 'apiVersion' again" in err
    assert "two documents concatenated without a '---' line between them?" in err
    assert "base64" not in err


def test_a_folder_is_read_without_its_subfolders_unless_recursive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES, repo / "base")
    code, _, err = run(capsys, "-f", str(repo), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert "holds no .yaml, .yml, .json files of its own (only its subfolders do)" in err
    assert "pass -R (--recursive)" in err
    assert run(capsys, "-R", "-f", str(repo), "-o", str(tmp_path / "out"))[0] == 0
    # Its own files only: a subfolder's duplicate is not read without -R.
    shutil.copy(SAMPLES / "trust-anchor.yaml", repo / "base" / "extra")
    (repo / "base" / "copy").mkdir()
    shutil.copy(SAMPLES / "trust-anchor.yaml", repo / "base" / "copy" / "again.yaml")
    assert run(capsys, "-f", str(repo / "base"), "-o", str(tmp_path / "out"))[0] == 0
    assert run(capsys, "-R", "-f", str(repo / "base"), "-o", str(tmp_path / "o2"))[0] == 1


def test_obregs_own_output_is_never_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES, repo)
    monkeypatch.chdir(repo)
    for recursive in ([], ["-R"]):
        for _ in range(2):  # the second run sees the first one's output under -f .
            code, _, err = run(capsys, *recursive, "-f", ".", "-o", "out")
            assert code == 0, err
    code, _, err = run(capsys, "-f", "out", "-o", "other")
    assert code == EXIT_REFUSED and "out: -f: is the output of obreg render" in err


def wrapped(value: str, width: int = 76, end: str = "\n") -> str:
    return end.join(value[i : i + width] for i in range(0, len(value), width)) + end


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_base64_with_line_breaks_is_read_as_the_api_server_reads_it(
    end: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    cas = find(docs, "ConfigMap", "ob-directory-cas")
    store = cas["binaryData"]["client-truststore.jks"]
    cas["binaryData"]["client-truststore.jks"] = wrapped(store, end=end)
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code, _, err = run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "samplestockca" in aliases(tmp_path / "out")
    assert base64.b64decode(store)  # (the same bytes, unwrapped)


@pytest.mark.parametrize("damage", [" ", "\t", "!", "="])
def test_base64_with_other_characters_is_refused_as_the_api_server_refuses_it(
    damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = sample_documents()
    cas = find(docs, "ConfigMap", "ob-directory-cas")
    store = cas["binaryData"]["client-truststore.jks"]
    cas["binaryData"]["client-truststore.jks"] = store[:40] + damage + store[40:]
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    code, _, err = run(capsys, "-f", str(manifest), "-o", str(tmp_path / "out"))
    assert code == EXIT_REFUSED
    assert "binaryData.client-truststore.jks: not valid base64" in err
    assert anchor(docs)  # (the anchor still references it)


def test_results_go_to_stdout_and_warnings_and_progress_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "-f", str(SAMPLES), "-o", str(tmp_path / "out"))
    assert code == 0
    assert out.splitlines() == [
        line for line in out.splitlines() if line.startswith("obreg-demo/Deployment/")
    ]
    assert len(out.splitlines()) == 2
    assert "warning: OBTrustAnchor obreg-demo/ob-directory-cas" in err
    assert "the truststore uses the default password" in err and "wrote " in err
