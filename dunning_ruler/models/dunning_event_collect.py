from collections import defaultdict

from odoo import fields, models

CONTACT_TYPES = [("call", "Call"), ("reply", "Customer reply"), ("visit", "Visit"), ("other", "Other")]


class DunningEvent(models.Model):
    _inherit = "dunning.event"

    reason_id = fields.Many2one(
        "dunning.reason", string="Non-payment Reason", index="btree_not_null", ondelete="restrict"
    )
    contact_type = fields.Selection(
        CONTACT_TYPES,
        string="Contact",
    )
    handover_id = fields.Many2one(
        "dunning.handover", string="Hand-over", ondelete="set null", index="btree_not_null"
    )
    fee_ids = fields.One2many("dunning.fee", "event_id", string="Fees")

    def _dunning_activity_user(self):
        """Activities go to the customer's responsible agent first, then to the level's
        assignee, the salesperson, and the user running the dunning."""
        self.ensure_one()
        partner = self.partner_id.with_company(self.company_id)
        return (
            partner._dunning_default_agent()
            or self.level_id.activity_user_id
            or partner.user_id
            or self.env.user
        )

    def _get_dunning_fees(self):
        """Fees charged for this event's level on its invoices (shown in the reminder).

        A fee is charged once per (level, invoice), by the event that executed the level:
        reading ``fee_ids`` is prefetched for every event of a batch (one query), where a
        search per event would cost one query per message."""
        self.ensure_one()
        return self.sudo().fee_ids.sorted(lambda fee: (fee.move_id.id, fee.id))

    # ------------------------------------------------------------------
    # Level action "hand over"
    # ------------------------------------------------------------------
    def _dunning_action_handover(self):
        """Hand the customers' overdue invoices to the level's agency, and email it a summary."""
        Handover = self.env["dunning.handover"].sudo()
        lines = (
            self.env["account.move.line"]
            .sudo()
            .search(
                [
                    ("display_type", "=", "payment_term"),
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "=", "out_invoice"),
                    ("reconciled", "=", False),
                    ("amount_residual", ">", 0),
                    ("date_maturity", "<=", max(self.mapped("date"))),
                    ("move_id.commercial_partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("move_id.dunning_excluded", "=", False),
                    ("move_id.dunning_handover_id", "=", False),
                    ("move_id.dunning_arrangement_id", "=", False),
                ]
            )
        )
        overdue = defaultdict(lambda: lines.browse())
        for line in lines:
            overdue[line.move_id.commercial_partner_id.id, line.company_id.id] |= line
        vals_list, events = [], []
        for event in self:
            moves = event.invoice_ids.filtered(lambda m: not m.dunning_handover_id)
            moves |= (
                overdue[event.partner_id.id, event.company_id.id]
                .filtered(lambda line, d=event.date: line.date_maturity <= d)
                .move_id
            )
            vals_list.append(
                {
                    "partner_id": event.partner_id.id,
                    "company_id": event.company_id.id,
                    "agency_id": event.level_id.handover_partner_id.id,
                    "level_id": event.level_id.id,
                    "date": event.date,
                    "invoice_ids": [fields.Command.set(moves.ids)],
                    "amount": sum(moves.mapped("amount_residual_signed")),
                    "currency_id": event.company_id.currency_id.id,
                }
            )
            events.append(event)
        # Recorded (hand-over, invoices marked, event linked) before the summary is queued.
        handovers = Handover.create(vals_list)
        for event, handover in zip(events, handovers, strict=True):
            handover.invoice_ids.write({"dunning_handover_id": handover.id})
            event.write({"handover_id": handover.id})
        handovers._send_summary()
        for event, handover in zip(events, handovers, strict=True):
            event.write(
                {
                    "message": self.env._(
                        "%(count)s invoice(s) handed over to %(agency)s.",
                        count=len(handover.invoice_ids),
                        agency=handover.agency_id.display_name,
                    ),
                    "state": "done" if handover.mail_message_id else "failed",
                    "failure_reason": handover.failure_reason or False,
                }
            )
