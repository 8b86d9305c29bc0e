from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        res = super().write(vals)
        if "dunning_excluded" in vals:
            # An invoice put in dispute never keeps its customer restricted.
            self.commercial_partner_id._dunning_access_sync(self.env._("Dispute changed"))
        return res
