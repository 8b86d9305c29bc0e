from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    dunning_handover_id = fields.Many2one(
        "dunning.handover",
        string="Handed Over",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Hand-over to a collection agency in progress: no reminder goes to the customer.",
    )
    dunning_arrangement_id = fields.Many2one(
        "dunning.arrangement",
        string="Payment Arrangement",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Active payment arrangement: dunning is paused while it is kept.",
    )
    dunning_fee_ids = fields.One2many("dunning.fee", "move_id", string="Dunning Fees", readonly=True)
    dunning_is_fee_invoice = fields.Boolean(
        string="Dunning Fee Invoice",
        copy=False,
        readonly=True,
        help="Carries dunning fees: never charged a fee itself.",
    )


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    dunning_pause_days = fields.Integer(
        copy=False,
        readonly=True,
        help="Days this installment was paused by payment arrangements: its ladder resumes where it stopped.",
    )
