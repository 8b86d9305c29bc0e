"""Holds become per company (issue 15).

``res_partner.dunning_hold_until`` and ``dunning_hold_note`` were one value shared by
every company: a hold set in one company paused the others' dunning. They become
company-dependent (jsonb ``{company id: value}``, like ``dunning_grade_id``).
PostgreSQL cannot cast a date or a text to jsonb, so the columns are rebuilt here,
before the models load. A hold set before applied to every company and is kept for
every company: the upgrade sends nothing a promise held back; agents lift it where it
does not apply.
"""

from odoo.tools import SQL
from odoo.tools.sql import create_column, rename_column, table_columns

COLUMNS = ("dunning_hold_until", "dunning_hold_note")


def migrate(cr, version):
    if not version:
        return
    columns = table_columns(cr, "res_partner")
    for column in COLUMNS:
        if column not in columns or columns[column]["udt_name"] == "jsonb":
            continue  # not there yet, or already converted (the script is idempotent)
        old = f"{column}_shared"
        rename_column(cr, "res_partner", column, old)
        create_column(cr, "res_partner", column, "jsonb")
        # One statement for every customer: {company id: the value, as the ORM stores it}.
        cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET %(column)s = companies.value
                  FROM (SELECT p2.id, jsonb_object_agg(c.id::text, to_jsonb(p2.%(old)s::text)) AS value
                          FROM res_partner p2 CROSS JOIN res_company c
                         WHERE p2.%(old)s IS NOT NULL
                      GROUP BY p2.id) companies
                 WHERE p.id = companies.id
                """,
                column=SQL.identifier(column),
                old=SQL.identifier(old),
            )
        )
        cr.execute(SQL("ALTER TABLE res_partner DROP COLUMN %s", SQL.identifier(old)))
