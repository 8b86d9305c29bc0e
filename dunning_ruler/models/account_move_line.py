from odoo import fields, models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    # Dunning is tracked per installment: each receivable line of a multi-installment
    # invoice climbs the ruler from its own due date.
    dunning_level_id = fields.Many2one(
        "dunning.level", copy=False, index="btree_not_null", ondelete="set null", readonly=True
    )
    dunning_last_date = fields.Date(copy=False, readonly=True)

    dunning_pause_days = fields.Integer(
        copy=False,
        readonly=True,
        help="Days this installment was paused by payment arrangements: its ladder resumes where it stopped.",
    )
