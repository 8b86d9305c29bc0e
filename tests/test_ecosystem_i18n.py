"""Translations: the committed .pot files are what Odoo exports today, and the
pt_BR / es catalogues translate all of it (run ./setup/i18n to refresh them).

Runs on the test database, where ./setup/test installed every project addon.
"""

import io
import re
from pathlib import Path

import polib

from odoo.tests.common import TransactionCase
from odoo.tools.translate import TranslationImporter, trans_export

REPO = Path(__file__).resolve().parent.parent
ADDONS = sorted(p.parent.name for p in REPO.glob("*/__manifest__.py"))
LANGS = ("pt_BR", "es")
# %s, %(name)s, {{ expr }}, {name} and QWeb/HTML tags must survive translation
PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{.*?\}\}|\{\w+\}|</?[a-zA-Z][^>]*>")


def signature(po):
    return {(e.msgctxt or "", e.msgid): sorted(e.occurrences) for e in po if not e.obsolete}


class TestTranslations(TransactionCase):
    # outside odoo.addons.*, Odoo does not tag the case itself
    test_tags = frozenset({"standard", "at_install"})
    test_module = "ecosystem"

    def _exported(self, addon):
        buf = io.BytesIO()
        trans_export(None, [addon], buf, "po", self.env)
        return polib.pofile(buf.getvalue().decode())

    def test_pot_files_are_up_to_date(self):
        stale = []
        for addon in ADDONS:
            pot_path = REPO / addon / "i18n" / f"{addon}.pot"
            self.assertTrue(pot_path.is_file(), f"{pot_path} missing: run ./setup/i18n")
            fresh, committed = signature(self._exported(addon)), signature(polib.pofile(str(pot_path)))
            if fresh != committed:
                added = sorted(k[1][:60] for k in fresh.keys() - committed.keys())
                removed = sorted(k[1][:60] for k in committed.keys() - fresh.keys())
                moved = sorted(k[1][:60] for k in fresh.keys() & committed.keys() if fresh[k] != committed[k])
                stale.append(f"{addon}: new {added}, gone {removed}, references changed {moved}")
        self.assertFalse(stale, "stale .pot, run ./setup/i18n:\n" + "\n".join(stale))

    def test_po_files_translate_every_term(self):
        problems = []
        for addon in ADDONS:
            pot = signature(polib.pofile(str(REPO / addon / "i18n" / f"{addon}.pot")))
            for lang in LANGS:
                path = REPO / addon / "i18n" / f"{lang}.po"
                if not path.is_file():
                    problems.append(f"{path} missing")
                    continue
                po = polib.pofile(str(path))
                if po.metadata.get("Language") != lang:
                    problems.append(f"{path}: Language header is not {lang}")
                entries = {(e.msgctxt or "", e.msgid): e for e in po if not e.obsolete}
                for key in pot:
                    entry = entries.get(key)
                    if entry is None or not entry.msgstr.strip() or "fuzzy" in entry.flags:
                        problems.append(f"{path}: untranslated {key[1][:70]!r}")
                    elif sorted(PLACEHOLDER_RE.findall(entry.msgid)) != sorted(
                        PLACEHOLDER_RE.findall(entry.msgstr)
                    ):
                        problems.append(f"{path}: placeholders or markup differ in {key[1][:70]!r}")
                problems += [f"{path}: {k[1][:70]!r} is not in the .pot" for k in entries.keys() - pot.keys()]
        self.assertFalse(problems, "\n".join(problems))

    def test_po_files_load_into_odoo(self):
        """Odoo imports the catalogues: the core model's name is translated."""
        codes = {}
        for lang in LANGS:
            # es.po serves es_ES and, as their base, the Latin American variants
            code = self.env["res.lang"].with_context(active_test=False).search([("iso_code", "=", lang)]).code
            lang_rec = self.env["res.lang"]._activate_lang(code)
            codes[lang] = lang_rec.code
            importer = TranslationImporter(self.env.cr, verbose=False)
            for addon in ADDONS:
                importer.load_file(str(REPO / addon / "i18n" / f"{lang}.po"), lang_rec.code, module=addon)
            importer.save(overwrite=True)
        model = self.env["ir.model"]._get("dunning.ruler")
        self.assertEqual(model.with_context(lang=codes["pt_BR"]).name, "Régua de cobrança")
        self.assertEqual(model.with_context(lang=codes["es"]).name, "Regla de cobranza")
        field = self.env["ir.model.fields"]._get("dunning.ruler", "min_amount")
        self.assertEqual(field.with_context(lang=codes["es"]).field_description, "Saldo mínimo")
