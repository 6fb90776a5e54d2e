"""A base file keeps its own line ending where obreg edits it: a CRLF site.json, locale
file or XML file comes out CRLF throughout (an edit in LF used to leave it mixed: 22 CRLF
and 23 LF in a CRLF site.json), and an LF file stays LF."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obreg.cli import main
from tests.bad_inputs import find, sample_documents

APIM = "obreg-demo/wso2-apim/"
KM = "obreg-demo/wso2-km/"
FILES = {
    "site.json": APIM + "repository/deployment/server/jaggeryapps/store/site/conf/site.json",
    "locale_en.json": APIM
    + "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery/locale_en.json",
    "api-manager.xml": APIM + "repository/conf/api-manager.xml",
    "open-banking.xml": APIM + "repository/conf/finance/open-banking.xml",
    "identity.xml": KM + "repository/conf/identity/identity.xml",
}


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
def test_edited_base_files_keep_their_own_line_ending(ending: str, tmp_path: Path) -> None:
    docs = sample_documents()
    base = find(docs, "ConfigMap", "wso2-base-files")["data"]
    for key in FILES:
        base[key] = base[key].replace("\r\n", "\n").replace("\n", ending)
    manifest = tmp_path / "in.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    out = tmp_path / "out"
    assert main(["render", "-f", str(manifest), "-o", str(out)]) == 0
    for key, path in FILES.items():
        content = (out / path).read_bytes()
        crlf, lf = content.count(b"\r\n"), content.count(b"\n")
        assert crlf == (lf if ending == "\r\n" else 0), (key, crlf, lf)
        assert lf > 3
