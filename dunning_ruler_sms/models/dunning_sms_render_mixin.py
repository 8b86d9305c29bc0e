from odoo import api, fields, models
from odoo.tools.misc import format_date

from ..tools.sms_segments import sms_normalize_text

RENDERING_KEY = "dunning_sms_rendering"
PLACEHOLDER_FIELDS = (
    "dunning_sms_amount",
    "dunning_sms_due_date",
    "dunning_sms_invoices",
    "dunning_sms_company",
    "dunning_sms_situation",
    "dunning_sms_service",
)


class DunningSmsRendering:
    """The dunning event whose text is being rendered on one record: handed by the
    dispatcher (``dunning.event._dunning_phone_render``) to the placeholders of that
    record, in the rendering context, under ``RENDERING_KEY``.

    A Python object, not an id: a context received over RPC is JSON and cannot hold
    one, so no caller can point the placeholders at an event of its choosing. It
    applies to the one record it was made for, and hashes by identity (each
    rendering computes its own values).
    """

    __slots__ = ("event", "model", "res_id")

    def __init__(self, event, record):
        event.ensure_one()
        record.ensure_one()
        self.event = event
        self.model = record._name
        self.res_id = record.id

    def __repr__(self):
        return f"<DunningSmsRendering of dunning.event({self.event.id}) on {self.model}({self.res_id})>"

    def event_for(self, record):
        """The event when ``record`` is the one rendered, else an empty recordset."""
        if record._name == self.model and record.id == self.res_id:
            return self.event
        return self.event.browse()


class DunningSmsRenderMixin(models.AbstractModel):
    """Placeholders for SMS / WhatsApp templates of dunning levels.

    SMS templates live on the customer (or invoice) model, like every sms.template,
    but what they must state belongs to one dunning event: the installments of that
    run. Only the dispatcher fills them, while it renders the event's text (see
    ``DunningSmsRendering``); read any other way they are empty. A template stays a
    plain ``{{ object.dunning_sms_amount }}`` (editable without template-editor
    rights) and states exactly the email's totals.
    """

    _name = "dunning.sms.render.mixin"
    _description = "Dunning SMS placeholders"

    dunning_sms_amount = fields.Char("Dunning: total owed", compute="_compute_dunning_sms_fields")
    dunning_sms_due_date = fields.Char("Dunning: due date", compute="_compute_dunning_sms_fields")
    dunning_sms_invoices = fields.Char("Dunning: invoice numbers", compute="_compute_dunning_sms_fields")
    dunning_sms_company = fields.Char("Dunning: company name", compute="_compute_dunning_sms_fields")
    # True on the day the message is sent: from the real due dates and the decision taken
    # for the customer in the run (dunning.event._get_notice_situation / _service_status).
    dunning_sms_situation = fields.Char(
        "Dunning: situation (e.g. 4 day(s) overdue)", compute="_compute_dunning_sms_fields"
    )
    dunning_sms_service = fields.Char(
        "Dunning: service status (may be empty)", compute="_compute_dunning_sms_fields"
    )
    # Computed apart: a portal link gives the invoices an access token (a write on
    # account.move), only worth it when the template uses it.
    dunning_sms_pay_url = fields.Char("Dunning: payment link", compute="_compute_dunning_sms_pay_url")

    def _dunning_sms_event(self):
        """The dunning event whose text the dispatcher is rendering on this record."""
        self.ensure_one()
        rendering = self.env.context.get(RENDERING_KEY)
        if isinstance(rendering, DunningSmsRendering):
            return rendering.event_for(self)
        return self.env["dunning.event"]

    @api.depends_context(RENDERING_KEY)
    def _compute_dunning_sms_pay_url(self):
        for record in self:
            event = record._dunning_sms_event()
            record.dunning_sms_pay_url = event._get_portal_url() if event else False

    @api.depends_context(RENDERING_KEY, "lang")
    def _compute_dunning_sms_fields(self):
        for record in self:
            values = dict.fromkeys(PLACEHOLDER_FIELDS, False)
            event = record._dunning_sms_event()
            if event:
                event = event.with_context(lang=self.env.lang)
                lines = event._get_sorted_lines()
                values.update(
                    # The email's total owed (one message per customer and run lists every
                    # open invoice), spaces made plain for GSM-7.
                    dunning_sms_amount=sms_normalize_text(event._get_notice_owed_display()),
                    dunning_sms_due_date=format_date(event.env, lines[:1].date_maturity) if lines else False,
                    dunning_sms_invoices=", ".join(event._get_notice_lines().move_id.mapped("name")),
                    dunning_sms_company=event.company_id.name,
                    dunning_sms_situation=event._get_notice_situation()["short"],
                    dunning_sms_service=sms_normalize_text(event._get_notice_service_status()["short"]),
                )
            record.update(values)
