"""The High-risk ruler's "Early reminder" gets its own neutral template (issue 17): the
friendly one promises the service stays active, true only where no restriction is
pending. The level is moved to it when it still uses the friendly template (a choice
made since is kept). The template itself is new noupdate data, created by the update."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            """
            UPDATE dunning_level lvl
               SET mail_template_id = early.res_id
              FROM ir_model_data lvl_xid, ir_model_data friendly, ir_model_data early
             WHERE lvl_xid.module = 'dunning_ruler' AND lvl_xid.name = 'dunning_level_high_risk_before_due'
               AND lvl_xid.res_id = lvl.id
               AND friendly.module = 'dunning_ruler' AND friendly.name = 'mail_template_dunning_before_due'
               AND early.module = 'dunning_ruler' AND early.name = 'mail_template_dunning_early'
               AND lvl.mail_template_id = friendly.res_id
            """
        )
    )
