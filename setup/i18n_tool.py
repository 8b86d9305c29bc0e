#!/usr/bin/env python3
"""Translation files of the project addons (used by ./setup/i18n and tests/).

    i18n_tool.py merge ADDON_DIR NEW_POT [--langs pt_BR es]
        replace ADDON_DIR/i18n/<addon>.pot by NEW_POT when its entries changed
        (the dates of the header alone are no change), then bring every
        ADDON_DIR/i18n/<lang>.po in line with it: new msgids are added
        untranslated, translations of removed msgids are dropped, references
        follow the .pot.  Missing .po files of --langs are created.
    i18n_tool.py missing ADDON_DIR...
        list the untranslated or fuzzy entries of every .po (exit 1 if any).

Needs polib (an Odoo requirement).
"""

import argparse
import re
import sys
from pathlib import Path

import polib

LANG_META = {  # header of a new .po
    "pt_BR": {"Language": "pt_BR", "Plural-Forms": "nplurals=2; plural=(n > 1);"},
    "es": {"Language": "es", "Plural-Forms": "nplurals=2; plural=(n != 1);"},
}
DEFAULT_LANGS = ["pt_BR", "es"]
IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def entry_key(entry):
    return (entry.msgctxt or "", entry.msgid)


def signature(po):
    """What matters in a .pot: msgids with their references and comments."""
    return sorted((entry_key(e), tuple(sorted(e.occurrences)), e.comment or "") for e in po if not e.obsolete)


def po_files(addon_dir):
    return sorted(p for p in (Path(addon_dir) / "i18n").glob("*.po"))


def cmd_merge(args):
    addon_dir = Path(args.addon_dir)
    name = addon_dir.name
    pot_path = addon_dir / "i18n" / f"{name}.pot"
    new_pot = polib.pofile(str(args.new_pot), wrapwidth=78)
    changed = []
    if not pot_path.is_file() or signature(polib.pofile(str(pot_path))) != signature(new_pot):
        pot_path.parent.mkdir(exist_ok=True)
        new_pot.save(str(pot_path))
        changed.append(pot_path)
    pot = polib.pofile(str(pot_path), wrapwidth=78)
    for e in pot:
        # Odoo 19's extractor takes a tuple literal that follows a _() call with no name
        # in between, e.g. the domain of {"name": _("X"), "domain": [("id", ...)]}, for
        # another _() call: such identifiers are no user text.
        if IDENTIFIER_RE.match(e.msgid) and all(o[0].startswith("code:") for o in e.occurrences):
            print(
                f"WARNING: {name}: identifier {e.msgid!r} extracted as a term from "
                f"{e.occurrences[0][0]}: move the _() call after the tuple",
                file=sys.stderr,
            )
    targets = {p.stem: p for p in po_files(addon_dir)}
    for lang in args.langs:
        targets.setdefault(lang, addon_dir / "i18n" / f"{lang}.po")
    for lang, path in sorted(targets.items()):
        if path.is_file():
            po = polib.pofile(str(path), wrapwidth=78)
            before = str(po)
        else:
            po = polib.POFile(wrapwidth=78)
            po.header = pot.header
            po.metadata = dict(pot.metadata)
            po.metadata.update(LANG_META.get(lang, {"Language": lang}))
            before = None
        old = {entry_key(e): e for e in po if not e.obsolete}
        merged = polib.POFile(wrapwidth=78)
        merged.header, merged.metadata = po.header, po.metadata
        for tmpl in pot:
            entry = polib.POEntry(
                msgid=tmpl.msgid,
                msgctxt=tmpl.msgctxt,
                occurrences=list(tmpl.occurrences),
                comment=tmpl.comment,
                flags=[f for f in tmpl.flags if f != "fuzzy"],
            )
            prev = old.get(entry_key(tmpl))
            if prev is not None:
                entry.msgstr = prev.msgstr
                if "fuzzy" in prev.flags:
                    entry.flags.append("fuzzy")
            merged.append(entry)
        if str(merged) != before:
            merged.save(str(path))
            changed.append(path)
    for path in changed:
        print(f"updated {path}")
    return 0


def cmd_missing(args):
    count = 0
    for addon_dir in args.addon_dirs:
        for path in po_files(addon_dir):
            for e in polib.pofile(str(path)):
                if e.obsolete:
                    continue
                if not e.msgstr.strip() or "fuzzy" in e.flags:
                    count += 1
                    print(f"{path}: {e.msgid[:100]!r}")
    print(f"{count} untranslated or fuzzy entr{'y' if count == 1 else 'ies'}", file=sys.stderr)
    return 1 if count else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("merge")
    s.add_argument("addon_dir")
    s.add_argument("new_pot")
    s.add_argument("--langs", nargs="*", default=DEFAULT_LANGS)
    s.set_defaults(f=cmd_merge)
    s = sub.add_parser("missing")
    s.add_argument("addon_dirs", nargs="+")
    s.set_defaults(f=cmd_missing)
    args = p.parse_args(argv)
    return args.f(args)


if __name__ == "__main__":
    sys.exit(main())
