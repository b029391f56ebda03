"""Translations: ``kiosk/translations/<lang>/LC_MESSAGES/messages.po``, compiled when the app starts.

The ``.po`` files are the source (English msgids, Spanish and Portuguese text). The kiosk
compiles them into ``.mo`` files in its state folder at start (and the tests do the same), so
no binary catalog is kept in the repository. ``python -m kiosk.i18n check`` lists msgids used
in the code or templates that a catalog lacks; ``python -m kiosk.i18n compile DEST`` compiles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE = Path(__file__).resolve().parent / "translations"
PACKAGE = Path(__file__).resolve().parent
LANGUAGES = ("es", "pt")


def compile_catalogs(dest: Path, source: Path = SOURCE) -> Path:
    """Compile every ``.po`` under ``source`` into ``dest``; return ``dest``."""
    dest = Path(dest)
    for po_path in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        lang = po_path.parts[-3]
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        out = dest / lang / "LC_MESSAGES" / "messages.mo"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        tmp.replace(out)
    return dest


def used_msgids() -> set[str]:
    """Every msgid in the kiosk's Python code and templates."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=method_map, options_map=options,
            keywords={"_": None, "_l": None, "gettext": None, "lazy_gettext": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def missing(lang: str) -> set[str]:
    """msgids used but not translated (or left empty) in ``lang``'s catalog."""
    with (SOURCE / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    done = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    return used_msgids() - done


def main(argv: list[str] | None = None) -> int:
    """``check`` or ``compile DEST``."""
    parser = argparse.ArgumentParser(prog="python -m kiosk.i18n", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check")
    comp = sub.add_parser("compile")
    comp.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "compile":
        print(compile_catalogs(args.dest))
        return 0
    status = 0
    for lang in LANGUAGES:
        for msgid in sorted(missing(lang)):
            print(f"{lang}: missing {msgid!r}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
