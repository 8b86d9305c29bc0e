from odoo import fields, models


class DunningHoldWizard(models.TransientModel):
    _name = "dunning.hold.wizard"
    _description = "Put customers on dunning hold"

    partner_ids = fields.Many2many("res.partner", required=True)
    hold_until = fields.Date(
        string="Promised payment date",
        help="Nothing is sent to these customers before this date. Empty: lift the hold.",
    )
    note = fields.Char()

    def action_apply(self):
        self.ensure_one()
        self.partner_ids.action_dunning_hold(self.hold_until, self.note)
        return {"type": "ir.actions.act_window_close"}
