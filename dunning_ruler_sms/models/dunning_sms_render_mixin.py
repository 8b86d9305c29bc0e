from odoo import api, fields, models
from odoo.tools.misc import format_date

from ..tools.sms_segments import sms_normalize_text


class DunningSmsRenderMixin(models.AbstractModel):
    """Placeholders for SMS / WhatsApp templates of dunning levels.

    SMS templates live on the customer (or invoice) model, like every sms.template,
    but what they must state belongs to one dunning event: the installments of that
    run. The dispatcher renders with ``dunning_event_id`` in the context and these
    fields read it, so a template stays a plain ``{{ object.dunning_sms_amount }}``
    (editable without template-editor rights) and states exactly the email's totals.
    """

    _name = "dunning.sms.render.mixin"
    _description = "Dunning SMS placeholders"

    dunning_sms_amount = fields.Char("Dunning: total owed", compute="_compute_dunning_sms_fields")
    dunning_sms_due_date = fields.Char("Dunning: due date", compute="_compute_dunning_sms_fields")
    dunning_sms_invoices = fields.Char("Dunning: invoice numbers", compute="_compute_dunning_sms_fields")
    dunning_sms_company = fields.Char("Dunning: company name", compute="_compute_dunning_sms_fields")
    # Computed apart: a portal link gives the invoices an access token (a write on
    # account.move), only worth it when the template uses it.
    dunning_sms_pay_url = fields.Char("Dunning: payment link", compute="_compute_dunning_sms_pay_url")

    def _dunning_sms_event(self):
        return self.env["dunning.event"].sudo().browse(self.env.context.get("dunning_event_id")).exists()

    @api.depends_context("dunning_event_id")
    def _compute_dunning_sms_pay_url(self):
        event = self._dunning_sms_event()
        self.dunning_sms_pay_url = event._get_portal_url() if event else False

    @api.depends_context("dunning_event_id", "lang")
    def _compute_dunning_sms_fields(self):
        event = self._dunning_sms_event()
        values = dict.fromkeys(
            ("dunning_sms_amount", "dunning_sms_due_date", "dunning_sms_invoices", "dunning_sms_company"),
            False,
        )
        if event:
            event = event.with_context(lang=self.env.lang)
            lines = event._get_sorted_lines()
            values.update(
                # Same helper as the email's totals, spaces made plain for GSM-7.
                dunning_sms_amount=sms_normalize_text(event._get_total_owed_display()),
                dunning_sms_due_date=format_date(event.env, lines[:1].date_maturity) if lines else False,
                dunning_sms_invoices=", ".join(lines.move_id.mapped("name")),
                dunning_sms_company=event.company_id.name,
            )
        for record in self:
            record.update(values)
