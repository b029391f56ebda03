"""Translations: every visible string in Spanish and Portuguese, catalogs compile at start."""

from __future__ import annotations

import pytest
from babel.messages.mofile import read_mo

from kiosk import i18n


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_msgid_is_translated(lang: str) -> None:
    assert i18n.missing(lang) == set()


def test_compile(tmp_path) -> None:
    out = i18n.compile_catalogs(tmp_path)
    with (out / "pt" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        catalog = read_mo(fh)
    assert catalog.get("Sign out").string == "Registrar saída"


def test_check_command(capsys) -> None:
    assert i18n.main(["check"]) == 0
