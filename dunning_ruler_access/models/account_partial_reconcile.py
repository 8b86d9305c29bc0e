from odoo import api, models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        partials = super().create(vals_list)
        # A payment may bring the customer back below the restricting level: queue the
        # unblock now and wake the outbox cron, instead of waiting for the daily run.
        # Never at the payment's expense: see _dunning_access_sync_nowait.
        partners = (partials.debit_move_id | partials.credit_move_id).partner_id
        partners._dunning_access_sync_nowait(self.env._("Payment received"))
        return partials

    def unlink(self):
        partners = (self.debit_move_id | self.credit_move_id).partner_id
        res = super().unlink()
        partners.exists()._dunning_access_sync_nowait(self.env._("Payment unreconciled"))
        return res
