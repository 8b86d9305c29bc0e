from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    dunning_level_id = fields.Many2one(
        "dunning.level",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        tracking=True,
        help="Highest dunning level executed for this invoice.",
    )
    dunning_last_date = fields.Date(string="Last Dunning", copy=False, readonly=True)
    dunning_excluded = fields.Boolean(
        string="In Dispute",
        copy=False,
        tracking=True,
        help="Excluded from dunning (e.g. disputed) until cleared.",
    )
    dunning_exclusion_reason = fields.Char(string="Dispute Reason", copy=False, tracking=True)
    dunning_event_ids = fields.Many2many(
        "dunning.event",
        "dunning_event_account_move_rel",
        "move_id",
        "event_id",
        string="Dunning History",
        copy=False,
        readonly=True,
    )
    dunning_event_count = fields.Integer(compute="_compute_dunning_event_count")

    def _compute_dunning_event_count(self):
        counts = dict(
            self.env["dunning.event"]._read_group(
                [("invoice_ids", "in", self.ids)], ["invoice_ids"], ["__count"]
            )
        )
        for move in self:
            move.dunning_event_count = counts.get(move, 0)

    def action_view_dunning_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.event",
            "view_mode": "list,form",
            "domain": [("invoice_ids", "in", self.ids)],
            "name": self.env._("Dunning History"),
        }
