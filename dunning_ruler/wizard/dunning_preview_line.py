from odoo import api, fields, models


def _channel_selection(self):
    return self.env["dunning.event"]._fields["channel"].selection


class DunningPreviewLine(models.TransientModel):
    _name = "dunning.preview.line"
    _description = "Dunning preview step"
    _order = "partner_id, offset_days, id"

    preview_id = fields.Many2one("dunning.preview", required=True, ondelete="cascade", index=True)
    selected = fields.Boolean(default=True, help="Run for this customer.")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    grade_id = fields.Many2one("dunning.grade", readonly=True)
    ruler_id = fields.Many2one("dunning.ruler", readonly=True)
    level_id = fields.Many2one("dunning.level", readonly=True)
    offset_days = fields.Integer(related="level_id.offset_days", store=True)
    tone = fields.Selection(related="level_id.tone")
    action = fields.Selection(related="level_id.action", string="Level Action")
    channel = fields.Selection(_channel_selection, readonly=True)
    channels = fields.Char(string="All Channels", readonly=True)
    is_main = fields.Boolean(
        readonly=True,
        help="First channel of the customer's highest level: one line per customer, to count and sum.",
    )
    invoice_ids = fields.Many2many("account.move", string="Invoices", readonly=True)
    invoice_count = fields.Integer(compute="_compute_invoice_count")
    amount = fields.Monetary(string="Amount Due", currency_field="currency_id", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    included_levels = fields.Char(
        readonly=True,
        help="Lower levels executed the same day whose invoices this message lists: one message per "
        "customer and channel.",
    )
    skipped_levels = fields.Char(
        string="Missed Levels",
        readonly=True,
        help="Lower levels recorded as skipped: only the highest one communicates.",
    )
    hold_until = fields.Date(string="Dunning On Hold Until", compute="_compute_hold_until")

    @api.depends("partner_id", "company_id")
    def _compute_hold_until(self):
        # The customer's hold in the line's company (holds are per company).
        for line in self:
            line.hold_until = line.partner_id.with_company(line.company_id).dunning_hold_until

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for line in self:
            line.invoice_count = len(line.invoice_ids)

    def action_open_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "view_mode": "form",
        }
