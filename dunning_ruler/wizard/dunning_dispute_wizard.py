from odoo import fields, models


class DunningDisputeWizard(models.TransientModel):
    _name = "dunning.dispute.wizard"
    _description = "Put invoices in dispute"

    move_ids = fields.Many2many("account.move", string="Invoices", required=True)
    reason = fields.Char(required=True, help="Why the customer disputes the invoice; shown in the history.")

    def action_apply(self):
        self.ensure_one()
        self.move_ids.action_dunning_dispute(self.reason)
        return {"type": "ir.actions.act_window_close"}
