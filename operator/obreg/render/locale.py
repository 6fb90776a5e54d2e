"""The store's jaggery locale files: ``"ID": "ID"``, the label of the application ID column."""

from __future__ import annotations

from ..errors import Where
from . import json_text

_DIR = "repository/deployment/server/jaggeryapps/store/site/conf/locales/jaggery"
DEFAULT_PATH = f"{_DIR}/locale_default.json"
EN_PATH = f"{_DIR}/locale_en.json"


def patch(base: bytes, where: Where) -> bytes:
    text = json_text.decode(base, where)
    return json_text.set_members(text, {"ID": "ID"}, where).encode("utf-8")
