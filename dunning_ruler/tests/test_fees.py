from datetime import timedelta

from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestFees(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.overdue = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 3)
        cls.final = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10)
        cls.overdue.write({"fee_mode": "fixed", "fee_amount": 10.0})
        cls.final.write(
            {
                "fee_mode": "percent",
                "fee_percent": 5.0,
                "fee_max": 30.0,
                "fee_product_id": cls.env.ref("dunning_ruler.product_late_interest").id,
            }
        )

    def _fees(self, **filters):
        domain = [("partner_id", "=", self.customer.id)] + [(k, "=", v) for k, v in filters.items()]
        return self.env["dunning.fee"].search(domain, order="id")

    def test_fees_on_separate_invoice_shown_and_never_twice(self):
        self.assertEqual(self.company.dunning_fee_booking, "invoice")
        inv1 = self._invoice(self.customer, 1000.0)
        inv2 = self._invoice(self.customer, 200.0)
        day3 = self.DUE + timedelta(days=3)
        self._run(day3)
        fees = self._fees(level_id=self.overdue.id)
        self.assertEqual(fees.move_id, inv1 | inv2)
        self.assertEqual(fees.mapped("amount"), [10.0, 10.0])
        fee_invoice = fees.fee_move_id
        self.assertEqual(len(fee_invoice), 1)
        self.assertEqual(fee_invoice.state, "posted")
        self.assertTrue(fee_invoice.dunning_is_fee_invoice)
        self.assertAlmostEqual(fee_invoice.amount_total, 20.0)
        self.assertEqual(fees.fee_line_id.move_id, fee_invoice)
        # Shown in the reminder.
        event = self._events(state="done", channel="email", date=day3)
        self.assertIn("Dunning fee", str(event.message))
        self.assertIn("10.00", str(event.message))
        # Rerun, and a manual replay of the same step: no second charge.
        self._run(day3)
        self.env["dunning.fee"]._charge(
            [
                (
                    type(
                        "Step",
                        (),
                        {
                            "move_ids": (inv1 | inv2).ids,
                            "level_id": self.overdue.id,
                            "partner_id": self.customer.id,
                            "company_id": self.company.id,
                        },
                    )(),
                    event,
                )
            ],
            day3,
        )
        self.assertEqual(len(self._fees(level_id=self.overdue.id)), 2)
        # Percentage with cap at the next level; the fee invoice itself never bears a fee.
        self._run(self.DUE + timedelta(days=10))
        final_fees = self._fees(level_id=self.final.id)
        self.assertEqual({f.move_id: f.amount for f in final_fees}, {inv1: 30.0, inv2: 10.0})
        self.assertFalse(self.env["dunning.fee"].search([("move_id", "=", fee_invoice.id)]))
        self.assertEqual(
            final_fees.fee_line_id.product_id, self.env.ref("dunning_ruler.product_late_interest")
        )

    def test_unique_per_level_and_invoice(self):
        invoice = self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        fee = self._fees()
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            fee.sudo().copy()
            self.env.flush_all()
        self.assertEqual(fee.move_id, invoice)

    def test_fees_as_lines_on_the_next_invoice(self):
        self.company.dunning_fee_booking = "line"
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        self._run(self.DUE + timedelta(days=10))
        fees = self._fees()
        draft = fees.fee_move_id
        self.assertEqual(len(draft), 1, "fees gather on one draft invoice")
        self.assertEqual(draft.state, "draft")
        self.assertEqual(sorted(draft.invoice_line_ids.mapped("price_unit")), [5.0, 10.0])
        self.assertEqual(fees.fee_line_id, draft.invoice_line_ids)

    def test_skipped_levels_charge_nothing(self):
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=12))  # Overdue skipped (missed run), Final executed
        self.assertEqual(self._fees().level_id, self.final)

    def test_booking_error_keeps_reminders(self):
        self._invoice(self.customer, 100.0)
        # No sale journal left for new invoices: the fee invoice cannot be created.
        self.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.company.id)]
        ).active = False
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done", channel="email")
        self.assertTrue(event.mail_message_id, "the reminder is sent")
        self.assertIn("Fee not charged", event.failure_reason)
        self.assertFalse(self._fees())
