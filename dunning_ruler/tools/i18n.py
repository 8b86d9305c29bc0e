"""Texts dunning writes on records for people to read later (why an event failed or
was skipped, what it did, why a platform account is restricted).

They are written by the scheduled action, as the superuser, in English, but read
by accountants in their own language. So such a field is ``translate=True`` and the
text is written, when it is produced, in every installed language: reading it in
the reader's language (web client, RPC, reports) gives their language, and
searching it still works.

A text is built with Odoo's lazy translation, ``_lt("... %(level)s ...",
level=...)`` (extracted to the .po files like ``_``); its parameters may be
lazy texts themselves, or ``field_text(record, "name")`` for a translated field
(a level's name), rendered in the same language as the sentence around them.
``translations`` turns one into the column value ``{lang: text}``;
``write_texts`` writes such values through the ORM; ``tools.bulk.bulk_insert``
accepts them as they are.
"""

import json
from collections import defaultdict

from odoo.tools import SQL
from odoo.tools.translate import LazyGettext, _lt

__all__ = [
    "Format",
    "Join",
    "_lt",
    "field_text",
    "is_text",
    "render",
    "set_texts",
    "translations",
    "write_texts",
]


class _Rendered(LazyGettext):
    """A lazy text that is not a source string of its own: Odoo's formatting
    (``get_translation``) renders it in the language of the sentence around it."""

    __slots__ = ()

    def __init__(self):  # pylint: disable=super-init-not-called
        self._source = ""
        self._args = ()
        self._module = "dunning_ruler"
        self._default_lang = "en_US"

    def __repr__(self):
        return f"{type(self).__name__}({self._translate('en_US')!r})"


class field_text(_Rendered):
    """The value of a translated field of ``record`` in the language being rendered."""

    __slots__ = ("_fname", "_record", "_values")

    def __init__(self, record, fname):
        super().__init__()
        self._record = record
        self._fname = fname
        self._values = {}  # per language: a run renders the same level name thousands of times

    def _translate(self, lang=""):
        lang = lang or self._record.env.lang or "en_US"
        if lang not in self._values:
            self._values[lang] = self._record.with_context(lang=lang)[self._fname] or ""
        return self._values[lang]


class Join(_Rendered):
    """``sep.join(texts)``, each text rendered in the same language."""

    __slots__ = ("_items", "_sep")

    def __init__(self, sep, items):
        super().__init__()
        self._sep = sep
        self._items = list(items)

    def _translate(self, lang=""):
        return self._sep.join(render(item, lang) for item in self._items)


class Format(_Rendered):
    """``template % texts`` for a template that is not translated (HTML markup,
    punctuation), each text rendered in the same language."""

    __slots__ = ("_template", "_texts")

    def __init__(self, template, *texts):
        super().__init__()
        self._template = template
        self._texts = texts

    def _translate(self, lang=""):
        return self._template % tuple(render(text, lang) for text in self._texts)


def render(text, lang):
    """``text`` in ``lang`` (a lazy text rendered, anything else as it is): where one
    language is needed, not all of them (``translations``)."""
    return text._translate(lang) if isinstance(text, LazyGettext) else text


def is_text(value):
    """Whether ``value`` is a lazy text (to render in every language)."""
    return isinstance(value, LazyGettext)


def languages(env):
    """The codes of the installed languages, and en_US (the fallback of every
    translated column)."""
    return ["en_US", *(code for code, _name in env["res.lang"].get_installed() if code != "en_US")]


def translations(env, text):
    """``{lang: text}``: the column value of a ``translate=True`` field for ``text``
    (a lazy text, rendered in every installed language; a plain string, as it is,
    for every language; False/None: None)."""
    if text is None or text is False:
        return None
    if not isinstance(text, LazyGettext):
        return {"en_US": text}
    return {lang: text._translate(lang) for lang in languages(env)}


def write_texts(records, vals):
    """``records.write(vals)``, where the values of translated fields may be lazy
    texts: those are written in every installed language (``set_texts``)."""
    plain = {name: value for name, value in vals.items() if not isinstance(value, LazyGettext)}
    if plain:
        records.write(plain)
    texts = {name: value for name, value in vals.items() if name not in plain}
    if texts:
        set_texts(records, dict.fromkeys(records.ids, texts))
    return True


def set_texts(model, texts):
    """Write ``texts`` {record id: {field name: lazy text or string}} of translated
    fields of ``model`` in every installed language: one UPDATE per field for all
    the records (written whole, not merged: the text replaces the one before). A
    text shared by many records (``write_texts``) is rendered once, as in
    ``tools.bulk.bulk_insert``."""
    env = model.env
    by_field = defaultdict(dict)
    for record_id, vals in texts.items():
        for name, text in vals.items():
            by_field[name][record_id] = text
    for name, values in by_field.items():
        field = model._fields[name]
        assert field.translate and field.store, f"{field} is not a translated stored field"
        records = model.browse(values)
        records.flush_recordset([name])
        columns, rendered = [], {}
        for record in records:
            text = values[record.id]
            if id(text) not in rendered:  # the texts stay referenced by ``values``: ids stay unique
                value = translations(env, text)
                if value is not None:
                    value = {lang: field.convert_to_column(each, record) for lang, each in value.items()}
                rendered[id(text)] = json.dumps(value) if value is not None else None
            columns.append(rendered[id(text)])
        env.cr.execute(
            SQL(
                """
                UPDATE %(table)s t
                   SET %(column)s = v.value, write_uid = %(uid)s, write_date = now() at time zone 'UTC'
                  FROM unnest(%(ids)s::int[], %(values)s::jsonb[]) AS v(id, value)
                 WHERE t.id = v.id
                """,
                table=SQL.identifier(model._table),
                column=SQL.identifier(name),
                uid=env.uid,
                ids=records.ids,
                values=columns,
            )
        )
        records.invalidate_recordset([name, "write_uid", "write_date"])
        records.modified([name])
