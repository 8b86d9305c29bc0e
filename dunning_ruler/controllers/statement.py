from werkzeug.exceptions import NotFound

from odoo import fields, http
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.http import request

from odoo.addons.account_payment.controllers.portal import PortalAccount


class DunningStatement(PortalAccount):
    """The customer's statement page, opened from a reminder without a login: the
    statement token (``res.partner.dunning_statement_token``) authenticates the
    customer. An unknown customer and a wrong or missing token both answer 404."""

    def _dunning_statement_partner(self, partner_id, access_token):
        partner = request.env["res.partner"]._dunning_statement_partner(partner_id, access_token)
        if not partner:
            raise NotFound()
        return partner

    @staticmethod
    def _dunning_company(company_id):
        """The company a link names (only narrows what the customer sees of its own)."""
        try:
            company_id = int(company_id or 0)
        except ValueError:
            raise NotFound() from None
        if not company_id:
            return None
        company = request.env["res.company"].sudo().browse(company_id).exists()
        if not company:
            raise NotFound()
        return company

    def _dunning_render_statement(self, partner, company, status=200, **extra):
        values = self._prepare_portal_layout_values()
        values.update(partner._dunning_statement_values(company))
        values.update({"page_name": "dunning", "statement": True, "pay_all_url": False, **extra})
        return request.render("dunning_ruler.portal_my_dunning", values, status=status)

    @http.route(
        ["/my/dunning/<int:partner_id>"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def portal_dunning_statement(self, partner_id, access_token=None, company_id=None, promised=None, **kw):
        """The statement: total owed, overdue, each invoice with its pay link, the
        platform access, "Pay all overdue" and the promise to pay."""
        partner = self._dunning_statement_partner(partner_id, access_token)
        company = self._dunning_company(company_id)
        return self._dunning_render_statement(partner, company, promise_done=bool(promised))

    @http.route(
        ["/my/dunning/<int:partner_id>/promise"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def portal_dunning_promise(self, partner_id, access_token=None, company_id=None, promise_date=None, **kw):
        """The customer promises to pay by ``promise_date``; a refused date changes nothing."""
        partner = self._dunning_statement_partner(partner_id, access_token)
        company = self._dunning_company(company_id)
        promise_company = partner._dunning_promise_company(company)
        try:
            if not promise_company:
                raise UserError(request.env._("There is nothing to promise to pay here."))
            partner._dunning_promise_to_pay(promise_company, promise_date)
        except UserError as error:
            return self._dunning_render_statement(partner, company, promise_error=error.args[0], status=400)
        url = partner._dunning_statement_url(company, absolute=False)
        return request.redirect(url + "&promised=1")

    @http.route(
        ["/my/dunning/<int:partner_id>/pay"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def portal_dunning_pay_overdue(
        self, partner_id, access_token=None, company_id=None, currency_id=None, **kw
    ):
        """Odoo's payment form for every overdue invoice of a company and currency."""
        partner = self._dunning_statement_partner(partner_id, access_token)
        company = self._dunning_company(company_id)
        currency = request.env["res.currency"].sudo().browse(self._cast_as_int(currency_id) or 0).exists()
        if not company or not currency:
            raise NotFound()
        invoices = partner._dunning_statement_payable(company, currency)
        statement_url = partner._dunning_statement_url(company, absolute=False)
        if not invoices:
            return request.redirect(statement_url)
        amount = sum(invoices.mapped("amount_residual"))
        reference = company.get_next_batch_payment_communication() if len(invoices) > 1 else invoices.name
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "dunning",
                "payment": {
                    "date": fields.Date.context_today(partner),
                    "reference": reference,
                    "amount": amount,
                    "currency": currency,
                },
                "amount": amount,
            }
        )
        values |= self._get_common_page_view_values(
            invoices_data={
                "partner": partner,
                "company": company,
                "total_amount": amount,
                "currency": currency,
                "amount_residual": amount,
                "payment_reference": reference,
                "landing_route": statement_url,
                "transaction_route": f"/my/dunning/{partner.id}/transaction/{company.id}/{currency.id}",
            },
            access_token=access_token,
            **kw,
        )
        return request.render("account_payment.portal_overdue_invoices_page", values)

    @http.route(
        ["/my/dunning/<int:partner_id>/transaction/<int:company_id>/<int:currency_id>"],
        type="jsonrpc",
        auth="public",
    )
    def portal_dunning_overdue_transaction(
        self, partner_id, company_id, currency_id, access_token=None, payment_reference=None, **kwargs
    ):
        """A draft transaction for every overdue invoice of a company and currency,
        for what they owe (whatever amount the browser sent)."""
        partner = request.env["res.partner"]._dunning_statement_partner(partner_id, access_token)
        if not partner:
            raise ValidationError(request.env._("The access token is invalid."))
        company = request.env["res.company"].sudo().browse(company_id).exists()
        currency = request.env["res.currency"].sudo().browse(currency_id).exists()
        invoices = partner._dunning_statement_payable(company, currency) if company and currency else None
        if not invoices:
            raise ValidationError(request.env._("There is no overdue invoice left to pay."))
        self._validate_transaction_kwargs(kwargs)
        logged_in = not request.env.user._is_public()
        kwargs.update(
            {
                "amount": sum(invoices.mapped("amount_residual")),
                "currency_id": currency.id,
                "partner_id": request.env.user.partner_id.id if logged_in else partner.id,
                "reference_prefix": payment_reference,
            }
        )
        tx_sudo = self._create_transaction(
            custom_create_values={"invoice_ids": [Command.set(invoices.ids)]}, **kwargs
        )
        return tx_sudo._get_processing_values()
