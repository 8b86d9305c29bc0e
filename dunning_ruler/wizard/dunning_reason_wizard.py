from odoo import api, fields, models

from ..models.dunning_event import CONTACT_TYPES


class DunningReasonWizard(models.TransientModel):
    """Log a call or a customer reply with the reason for non-payment."""

    _name = "dunning.reason.wizard"
    _description = "Log Dunning Contact"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    contact_type = fields.Selection(
        CONTACT_TYPES,
        string="Contact",
        required=True,
        default="call",
    )
    reason_id = fields.Many2one(
        "dunning.reason",
        required=True,
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
    )
    note = fields.Text()
    event_id = fields.Many2one(
        "dunning.event",
        string="About",
        domain="[('partner_id', '=', partner_id), ('state', '=', 'done')]",
        help="The reminder the customer answers (defaults to the last one).",
    )

    @api.onchange("partner_id")
    def _onchange_partner_id(self):
        if self.partner_id and not self.event_id:
            self.event_id = self.env["dunning.event"].search(
                [
                    ("partner_id", "=", self.partner_id.commercial_partner_id.id),
                    ("state", "=", "done"),
                    ("level_id", "!=", False),
                ],
                limit=1,
            )

    def action_log(self):
        """Record the contact as a manual dunning event carrying the reason, the customer's
        grade and the level it answers (the keys of the reasons report)."""
        self.ensure_one()
        self.env["res.partner"]._dunning_check_agent()
        partner = self.partner_id.commercial_partner_id.with_company(self.company_id)
        level = self.event_id.level_id or partner.dunning_level_id
        contact = dict(self._fields["contact_type"]._description_selection(self.env))[self.contact_type]
        body = self.env._(
            "%(contact)s: %(reason)s. %(note)s",
            contact=contact,
            reason=self.reason_id.name,
            note=self.note or "",
        )
        event = self.env["dunning.event"]._dunning_create_manual(
            [
                {
                    "partner_id": partner.id,
                    "company_id": self.company_id.id,
                    "grade_id": partner.dunning_effective_grade_id.id,
                    "level_id": level.id,
                    "ruler_id": level.ruler_id.id,
                    "reason_id": self.reason_id.id,
                    "contact_type": self.contact_type,
                    "invoice_ids": self.event_id.invoice_ids.ids,
                    # what the customer owes in the company, not only the invoices answered
                    "currency_id": self.company_id.currency_id.id,
                    "amount_due": partner.with_context(
                        allowed_company_ids=self.company_id.ids
                    ).dunning_overdue_amount,
                    "message": body,
                }
            ]
        )
        partner._message_log(body=self.env._("Dunning contact logged. %s", body))
        return event
