"""A level's customer filter is evaluated with the rights of the user who wrote it
(``dunning.level.condition_user_id``, issue 15): filters written before that record
was kept take the level's last writer."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            """
            UPDATE dunning_level
               SET condition_user_id = write_uid
             WHERE condition_partner_domain IS NOT NULL
               AND condition_user_id IS NULL
            """
        )
    )
