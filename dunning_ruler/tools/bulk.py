"""Set-based inserts for the records a dunning run writes by the thousand.

A run at scale writes tens of thousands of events, chatter messages and queued
mails. Through ``create`` each record costs about a millisecond of Python
(defaults, conversions, HTML sanitising, inverse caches), whatever PostgreSQL
does: here each table gets one statement per batch.

The rows must already be in column form (ids, strings, dates) and HTML in them
must be safe: sanitised or escaped by the caller, since nothing sanitises here.
"""

import json
from datetime import date, datetime

from markupsafe import Markup

from odoo import fields
from odoo.fields import Domain
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id

from .i18n import translations

LOG_ACCESS = ("create_uid", "create_date", "write_uid", "write_date")


def _json_default(value):
    if isinstance(value, datetime):
        return fields.Datetime.to_string(value)
    if isinstance(value, date):
        return fields.Date.to_string(value)
    return str(value)


def bulk_insert(model, rows):
    """Insert ``rows`` [{field name: column value}] in ``model``'s table; return
    the new records, in the order of ``rows``.

    Like ``create``: the defaults of the stored fields no row gives are applied
    (evaluated once for all rows), stored computed fields no row gives are left to
    the ORM to compute, dependent fields are marked modified and the cached
    inverses (one2many) of the relational fields given are invalidated. The value
    of a translated field may be a lazy text (``tools.i18n``): it is written in
    every installed language; a plain string is its English (fallback) value.
    """
    if not rows:
        return model.browse()
    env = model.env
    model_fields = model._fields
    given = set().union(*rows)
    unknown = [
        name
        for name in given
        if name not in model_fields or not (model_fields[name].store and model_fields[name].column_type)
    ]
    if unknown:
        raise ValueError(f"bulk_insert({model._name}): not stored columns: {unknown}")
    # Defaults, in column form, of the stored fields that no row gives.
    defaults = model.default_get(
        [
            name
            for name, field in model_fields.items()
            if field.store
            and field.column_type
            and name not in given
            and name not in LOG_ACCESS
            and name != "id"
            and not field.compute
        ]
    )
    default_columns = {
        name: model_fields[name].convert_to_column(value, model) for name, value in defaults.items()
    }
    columns = sorted(given | set(default_columns))
    model.flush_model()
    env.cr.execute(
        SQL(
            "SELECT nextval(%s) FROM generate_series(1, %s)",
            f"{model._table}_id_seq",
            len(rows),
        )
    )
    ids = [row[0] for row in env.cr.fetchall()]
    names = ["id", *columns]
    types = {name: model_fields[name].column_type[1] for name in columns}
    types["id"] = "int4"
    translated = {name for name in columns if model_fields[name].translate}
    # A text shared by many rows (the same lazy text object) is rendered once.
    rendered = {}
    records = []
    for record_id, row in zip(ids, rows, strict=True):
        record = dict(default_columns)
        record.update(row)
        record["id"] = record_id
        for name, value in record.items():
            # False is how the ORM writes "empty"; only a boolean column keeps it.
            if value is False and types[name] != "bool":
                record[name] = None
            elif name in translated and not isinstance(value, dict):
                key = id(value)
                if key not in rendered:
                    rendered[key] = (value, translations(env, value))  # the value kept: its id stays unique
                record[name] = rendered[key][1]
        records.append(record)
    log_access = model._log_access
    env.cr.execute(
        SQL(
            """
            INSERT INTO %(table)s (%(columns)s)
            SELECT %(values)s FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(%(types)s)
            """,
            table=SQL.identifier(model._table),
            columns=SQL(", ").join(
                SQL.identifier(name) for name in names + (list(LOG_ACCESS) if log_access else [])
            ),
            values=SQL(", ").join(
                [SQL("r.%s", SQL.identifier(name)) for name in names]
                + ([SQL("%s", env.uid), SQL("now() at time zone 'UTC'")] * 2 if log_access else [])
            ),
            rows=json.dumps(records, default=_json_default),
            types=SQL(", ").join(SQL("%s %s", SQL.identifier(name), SQL(types[name])) for name in names),
        )
    )
    new = model.browse(ids)
    # What create() leaves to the ORM: stored computed fields, dependent fields,
    # the inverses cached on the related records. As create() does, the computed
    # fields a row gives keep the value given (not computed again from the others).
    for field in model_fields.values():
        if field.store and field.compute and field.name not in given:
            env.add_to_compute(field, new)
    with env.protecting([model_fields[name] for name in given if model_fields[name].compute], new):
        new.modified(columns, create=True)
    for name in columns:
        for inverse in model.pool.field_inverses[model_fields[name]]:
            env[inverse.model_name].invalidate_model([inverse.name])
    return new


def bulk_link(model, field_name, pairs, created=None):
    """Add the (record id, target id) ``pairs`` to the many2many ``field_name``.

    ``created``: the records of ``model`` these pairs belong to when they were just
    inserted (``bulk_insert``) and linked to nothing yet. Their cache of the field is
    then filled from ``pairs``, ordered as the field reads them, instead of being
    read back: that read joins the relation to the target table and sorts by its
    order, a query whose plan and cost grow with the relation, not with the batch."""
    if not pairs and created is None:
        return
    field = model._fields[field_name]
    if pairs:
        left, right = zip(*pairs, strict=True)
        model.env.cr.execute(
            SQL(
                """
                INSERT INTO %s (%s, %s) SELECT * FROM unnest(%s::int[], %s::int[]) ON CONFLICT DO NOTHING
                """,
                SQL.identifier(field.relation),
                SQL.identifier(field.column1),
                SQL.identifier(field.column2),
                list(left),
                list(right),
            )
        )
    records = model.browse({record_id for record_id, _target in pairs})
    if created is not None:
        records |= created
    records.invalidate_recordset([field_name])
    for inverse in model.pool.field_inverses[field]:
        model.env[inverse.model_name].invalidate_model([inverse.name])
    if created is not None and not field.bypass_search_access:
        _fill_created_links(field, created, pairs)
    records.modified([field_name])


def _fill_created_links(field, created, pairs):
    """Cache ``field`` of the just created records ``created`` from their ``pairs``,
    as ``Many2many.read`` would read them: targets in the order of the target model,
    filtered by the field's domain, context and the reader's rules (one query on the
    targets' ids)."""
    comodel = created.env[field.comodel_name].with_context(active_test=False, **field.context)
    targets = list({target for _record, target in pairs})
    rank = {}
    if targets:
        domain = Domain(field.get_comodel_domain(created)) & Domain("id", "in", targets)
        rank = {target: i for i, target in enumerate(comodel._search(domain, order=comodel._order))}
    linked = {record_id: set() for record_id in created._ids}
    for record_id, target in pairs:
        if target in rank and record_id in linked:
            linked[record_id].add(target)
    field._insert_cache(created, [tuple(sorted(linked[rid], key=rank.__getitem__)) for rid in created._ids])


def bulk_fill_tokens(records, field_name):
    """Give ``records`` a random token in ``field_name`` where they have none, in one
    statement (``write`` per record would go through each model's ``write``)."""
    if not records:
        return
    records.flush_recordset([field_name])
    records.env.cr.execute(
        SQL(
            "UPDATE %s SET %s = gen_random_uuid()::text WHERE id = ANY(%s) AND %s IS NULL",
            SQL.identifier(records._table),
            SQL.identifier(field_name),
            records.ids,
            SQL.identifier(field_name),
        )
    )
    records.invalidate_recordset([field_name])


def bulk_log(records, bodies):
    """``records._message_log_batch(bodies=bodies)`` in one INSERT: the same internal
    notes ({record id: plain text}), escaped instead of sanitised (they are text)."""
    if not records:
        return records.env["mail.message"]
    Thread = records.env["mail.thread"]
    author_id, email_from = Thread._message_compute_author(None, None)
    base = {
        "author_id": author_id,
        "email_from": email_from,
        "model": records._name,
        "record_alias_domain_id": False,
        "record_company_id": False,
        "message_type": "notification",
        "is_internal": True,
        "subject": False,
        "subtype_id": records.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
        "email_add_signature": False,
        "message_id": generate_tracking_message_id("message-notify"),
        "reply_to": Thread._notify_get_reply_to(default=email_from, author_id=author_id)[False],
    }
    Message = records.env["mail.message"].sudo()
    return bulk_insert(
        Message,
        [
            dict(base, res_id=record_id, body=Markup("<p>%s</p>") % bodies[record_id])
            for record_id in records.ids
        ],
    )
