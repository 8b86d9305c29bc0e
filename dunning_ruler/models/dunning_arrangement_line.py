from odoo import api, fields, models
from odoo.exceptions import UserError


class DunningArrangementLine(models.Model):
    _name = "dunning.arrangement.line"
    _description = "Payment Arrangement Installment"
    _order = "arrangement_id, date, id"

    arrangement_id = fields.Many2one("dunning.arrangement", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="arrangement_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="arrangement_id.currency_id")
    date = fields.Date(required=True)
    amount = fields.Monetary(required=True)
    note = fields.Char()

    def _check_draft(self):
        if not self.env.su and self.arrangement_id.filtered(lambda p: p.state != "draft"):
            raise UserError(
                self.env._("The installments of an agreed payment arrangement cannot be changed.")
            )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._check_draft()
        return lines

    def write(self, vals):
        self._check_draft()
        return super().write(vals)

    def unlink(self):
        self._check_draft()
        return super().unlink()
