"""Translations: the committed .pot files are what Odoo exports today, and the
pt_BR / es catalogues translate all of it (run ./setup/i18n to refresh them).

Runs on the test database, where ./setup/test installed every project addon.
"""

import io
import re
import tempfile
from pathlib import Path

import polib

from odoo.tests.common import TransactionCase
from odoo.tools.translate import TranslationImporter, trans_export

REPO = Path(__file__).resolve().parent.parent
ADDONS = sorted(p.parent.name for p in REPO.glob("*/__manifest__.py"))
LANGS = ("pt_BR", "es")
# %s, %(name)s, {{ expr }}, {name} and QWeb/HTML tags must survive translation
PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{.*?\}\}|\{\w+\}|</?[a-zA-Z][^>]*>")


# One spelling per term: an English term (a regular expression on the msgid) is
# translated one way in each language; the words listed are the other ways it was
# once translated (a msgstr of a msgid naming the term must not use them).
GLOSSARY = {
    "pt_BR": [
        (r"\blevels?\b", r"\bn[íi]ve(l|is)\b", "etapa"),
        (r"\bdisput", r"\bdisputa", "contestação"),
        (r"\bhold\b|\bholds\b", r"\bsuspen", "pausa"),
        (r"\bgrades?\b", r"\b(classe|perfil)", "categoria"),
        (r"\bhand(-| )?overs?\b|\bhanded over\b", r"\b(repasse|entrega)", "encaminhamento"),
        (r"\barrangements?\b", r"\bparcelamento", "acordo"),
        (r"\bfees?\b", r"\b(tarifa|multa|encargo)", "taxa"),
        (r"\bemails?\b", r"\bemail", "e-mail"),
        (r"\boverdue\b", r"\b(em atraso|atrasad)", "vencido"),
    ],
    "es": [
        (r"\blevels?\b", r"\betapa", "nivel"),
        (r"\bdunning\b", r"\bcobros?\b", "cobranza"),
        (r"\binstallments\b", r"\bvencimientos\b", "cuota"),
        (r"\bgrades?\b", r"\b(clase|perfil)", "categoría"),
        (r"\bhand(-| )?overs?\b|\bhanded over\b", r"\b(traspaso|cesión)", "derivación"),
        (r"\barrangements?\b", r"\bacuerdo", "convenio"),
        (r"\bfees?\b", r"\b(tarifa|comisión|recargo)", "cargo"),
        (r"\bemails?\b", r"\be-?mail", "correo electrónico"),
    ],
}


# and in English (the .pot files), one spelling: (other spelling, the one used)
ENGLISH = [(r"\binstalments?\b", "installment"), (r"\be-mails?\b", "email"), (r"\bcanceled\b", "cancelled")]


def glossary_problems(repo=REPO):
    """[problem] of the .po files translating a glossary term another way, of the
    .pot files spelling an English term another way."""
    problems = []
    for path in sorted(repo.glob("*/i18n/*.pot")):
        for entry in polib.pofile(str(path)):
            msgid = PLACEHOLDER_RE.sub(" ", entry.msgid).lower()
            problems += [
                f"{path.relative_to(repo)}: {entry.msgid[:60]!r}: use “{word}”"
                for other, word in ENGLISH
                if re.search(other, msgid)
            ]
    for path in sorted(repo.glob("*/i18n/*.po")):
        rules = GLOSSARY.get(path.stem, ())
        for entry in polib.pofile(str(path)):
            if entry.obsolete or not entry.msgstr:
                continue
            # placeholders, expressions and markup are code, not words
            msgid = PLACEHOLDER_RE.sub(" ", entry.msgid).lower()
            msgstr = PLACEHOLDER_RE.sub(" ", entry.msgstr).lower()
            for term, other, word in rules:
                if re.search(term, msgid) and re.search(other, msgstr):
                    problems.append(f"{path.relative_to(repo)}: {entry.msgid[:60]!r}: use “{word}”")
    return problems


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

    def test_po_files_use_one_spelling_per_term(self):
        """A term is translated one way (GLOSSARY) in every addon's catalogue."""
        self.assertFalse(glossary_problems(), "\n".join(glossary_problems()))

    def test_glossary_check_can_fail(self):
        po = polib.POFile()
        po.append(polib.POEntry(msgid="Dunning level reached", msgstr="Nível de cobrança atingido"))
        pot = polib.POFile()
        pot.append(polib.POEntry(msgid="Instalment missed", msgstr=""))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "addon" / "i18n").mkdir(parents=True)
            po.save(str(Path(tmp) / "addon" / "i18n" / "pt_BR.po"))
            pot.save(str(Path(tmp) / "addon" / "i18n" / "addon.pot"))
            self.assertEqual(len(glossary_problems(Path(tmp))), 2)

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
