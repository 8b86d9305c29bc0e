"""One definition of "dunnable" (issue 13) and the company scope of holds and
customer filters (issue 15): the manual step, the preview, the portal and the runs
act on the same installments, with the same ladders and grace days."""

from datetime import timedelta

from odoo import Command
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestOneDefinition(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agency = cls.env["res.partner"].create({"name": "Agency", "email": "files@agency.example.com"})

    def _level(self, offset, ruler=None):
        return (ruler or self.ruler).level_ids.filtered(lambda lvl: lvl.offset_days == offset)

    def _open_invoices(self, partner):
        return self.env["account.move"].search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
            ],
            order="invoice_date_due, id",
        )

    def _hand_over(self, invoice):
        # As a hand-over level does (only the engine creates hand-overs).
        handover = (
            self.env["dunning.handover"]
            .sudo()
            .create(
                {
                    "partner_id": invoice.commercial_partner_id.id,
                    "agency_id": self.agency.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                }
            )
        )
        invoice.sudo().dunning_handover_id = handover
        return handover

    def _arrange(self, invoice, start):
        plan = self.env["dunning.arrangement"].create(
            {
                "partner_id": invoice.commercial_partner_id.id,
                "date_start": start,
                "invoice_ids": [Command.set(invoice.ids)],
                "line_ids": [
                    Command.create({"date": start + timedelta(days=60), "amount": invoice.amount_total})
                ],
            }
        )
        plan.action_confirm()
        return plan

    def _payment_term_lines(self, invoices):
        return invoices.line_ids.filtered(lambda line: line.display_type == "payment_term")

    def test_letters_and_arrangements_take_the_dunnable_invoices(self):
        self._level(10).send_letter = True
        self.company.external_report_layout_id = self.env.ref("web.external_layout_standard")
        listed = self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        disputed = self._invoice(self.customer, 200.0, due=self.DUE + timedelta(days=1))
        disputed.action_dunning_dispute("Wrong address")
        handed = self._invoice(self.customer, 300.0, due=self.DUE + timedelta(days=2))
        self._hand_over(handed)
        self._run(self.DUE + timedelta(days=10))
        letter = self._events(channel="letter")
        lines = letter._get_letter_lines_map()[letter.id]
        self.assertEqual(lines.move_id, listed, "neither the disputed nor the handed-over invoice")
        plan = self.env["dunning.arrangement"].new(
            {"partner_id": self.customer.id, "date_start": self.DUE + timedelta(days=10)}
        )
        plan._onchange_partner_id()
        self.assertEqual(plan.invoice_ids._origin, listed)
