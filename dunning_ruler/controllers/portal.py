from odoo import fields, http
from odoo.http import request

from odoo.addons.account.controllers.portal import PortalAccount


class DunningPortal(PortalAccount):
    def _dunning_open_invoices_domain(self):
        partner = request.env.user.partner_id.commercial_partner_id
        return [
            ("state", "=", "posted"),
            ("move_type", "=", "out_invoice"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("commercial_partner_id", "=", partner.id),
        ]

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "dunning_overdue_count" in counters:
            Move = request.env["account.move"]
            domain = self._dunning_open_invoices_domain() + [("invoice_date_due", "<", fields.Date.today())]
            values["dunning_overdue_count"] = Move.search_count(domain) if Move.has_access("read") else 0
        return values

    @http.route(["/my/dunning"], type="http", auth="user", website=True)
    def portal_my_dunning(self, **kw):
        """The customer's account situation: what is overdue, what is owed, what happens next."""
        Move = request.env["account.move"]
        moves = (
            Move.search(self._dunning_open_invoices_domain(), order="invoice_date_due, id")
            if Move.has_access("read")
            else Move
        )
        partner = request.env.user.partner_id
        values = self._prepare_portal_layout_values()
        values.update(partner._dunning_portal_values(moves, fields.Date.context_today(partner)))
        values.update(
            {
                "page_name": "dunning",
                # Paying all overdue invoices at once needs account_payment; otherwise each invoice page.
                "pay_all_url": "/my/invoices/overdue" if "payment.transaction" in request.env else False,
            }
        )
        return request.render("dunning_ruler.portal_my_dunning", values)
