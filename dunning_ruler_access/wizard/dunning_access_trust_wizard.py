from datetime import timedelta

from odoo import fields, models
from odoo.exceptions import UserError


class DunningAccessTrustWizard(models.TransientModel):
    _name = "dunning.access.trust.wizard"
    _description = "Provisional unblock"

    partner_ids = fields.Many2many("res.partner", required=True)
    until = fields.Date(
        required=True, default=lambda self: fields.Date.context_today(self) + timedelta(days=2)
    )
    note = fields.Char(required=True, help="Why: e.g. bank slip paid, settles tomorrow.")

    def action_confirm(self):
        self.ensure_one()
        if self.until < fields.Date.context_today(self):
            raise UserError(self.env._("The provisional unblock must last until today or later."))
        self.partner_ids.action_dunning_trust(self.until, self.note)
        return {"type": "ir.actions.act_window_close"}
