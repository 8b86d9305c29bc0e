from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestArrangement(DunningCommon):
    def _arrangement(self, invoices, plan, start):
        return self.env["dunning.arrangement"].create(
            {
                "partner_id": self.customer.id,
                "date_start": start,
                "invoice_ids": [Command.set(invoices.ids)],
                "line_ids": [
                    Command.create({"date": self.DUE + timedelta(days=d), "amount": a}) for d, a in plan
                ],
            }
        )

    def test_kept_plan_pauses_and_missed_installment_resumes_where_it_stopped(self):
        invoice = self._invoice(self.customer, 1000.0)
        other = self._invoice(self.customer, 50.0)
        self._run(self.DUE + timedelta(days=3))
        self.assertEqual(invoice.dunning_level_id.offset_days, 3)
        plan = self._arrangement(invoice, [(10, 500.0), (20, 500.0)], self.DUE + timedelta(days=4))
        plan.action_confirm()
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.level_id.offset_days, 3)
        self.assertEqual(invoice.dunning_arrangement_id, plan)
        # Kept: the arranged invoice is left alone; the other one is still dunned.
        self._pay(invoice, 500.0, payment_date=self.DUE + timedelta(days=10))
        self._run(self.DUE + timedelta(days=15))
        self.assertEqual(plan.state, "active")
        paused = self._events(state="done", date=self.DUE + timedelta(days=15))
        self.assertEqual(paused.invoice_ids, other, "only the invoice outside the plan reaches Restrict")
        # The second installment (D+20) is missed: the daily check breaks the plan.
        self._run(self.DUE + timedelta(days=21))
        self.assertEqual(plan.state, "broken")
        self.assertIn(str(self.DUE + timedelta(days=20)), plan.broken_reason)
        self.assertFalse(invoice.dunning_arrangement_id)
        self.assertIn(
            "broken", self._events(channel="manual", date=self.DUE + timedelta(days=21))[-1:].message
        )
        # Paused 17 days (D+4 to D+21): the ladder resumes after Overdue, at Final, 17 days late.
        self.assertFalse(
            self._events(invoice.partner_id, state="done", date=self.DUE + timedelta(days=21)).filtered(
                lambda e: e.level_id and invoice in e.invoice_ids
            )
        )
        self._run(self.DUE + timedelta(days=26))
        self.assertFalse(
            self._events(date=self.DUE + timedelta(days=26)).filtered(lambda e: invoice in e.invoice_ids)
        )
        self._run(self.DUE + timedelta(days=27))
        resumed = self._events(state="done", date=self.DUE + timedelta(days=27))
        self.assertEqual(resumed.invoice_ids, invoice)
        self.assertEqual(resumed.level_id.offset_days, 10)
        self.assertAlmostEqual(resumed.amount_due, 500.0)

    def test_fulfilled_plan_is_closed(self):
        invoice = self._invoice(self.customer, 300.0)
        plan = self._arrangement(invoice, [(10, 100.0), (20, 200.0)], self.DUE + timedelta(days=1))
        plan.action_confirm()
        self._pay(invoice, 300.0, payment_date=self.DUE + timedelta(days=9))
        self._run(self.DUE + timedelta(days=11))
        self.assertEqual(plan.state, "done")
        self.assertFalse(self._events(state="done", channel="email"))

    def test_bad_plans_are_refused(self):
        invoice = self._invoice(self.customer, 300.0)
        plan = self._arrangement(invoice, [(10, 100.0)], self.DUE)
        with self.assertRaisesRegex(UserError, "must match"):
            plan.action_confirm()
        self.assertEqual(plan.state, "draft")
        with self.assertRaises(ValidationError):
            self._arrangement(invoice, [(-5, 300.0)], self.DUE)
        good = self._arrangement(invoice, [(10, 300.0)], self.DUE)
        good.action_confirm()
        twice = self._arrangement(invoice, [(10, 300.0)], self.DUE)
        with self.assertRaisesRegex(UserError, "already"):
            twice.action_confirm()
        good.action_cancel()
        self.assertEqual(good.state, "cancel")
        self.assertFalse(invoice.dunning_arrangement_id)

    def test_agent_records_arrangements_supervisor_deletes(self):
        invoice = self._invoice(self.customer, 300.0)
        agent = self._create_user("agent_a", "Agent A", "dunning_ruler.group_dunning_agent")
        plan = (
            self.env["dunning.arrangement"]
            .with_user(agent)
            .create(
                {
                    "partner_id": self.customer.id,
                    "date_start": self.DUE,
                    "invoice_ids": [Command.set(invoice.ids)],
                    "line_ids": [Command.create({"date": self.DUE + timedelta(days=5), "amount": 300.0})],
                }
            )
        )
        plan.action_confirm()
        self.assertEqual(plan.state, "active")
        with self.assertRaises(AccessError):
            plan.unlink()
        plan.with_user(self.env.user).action_cancel()

    def test_agreed_plan_is_locked(self):
        invoice = self._invoice(self.customer, 300.0)
        plan = self._arrangement(invoice, [(10, 300.0)], self.DUE)
        plan.action_confirm()
        with self.assertRaises(UserError):
            plan.line_ids.amount = 100.0
        with self.assertRaises(UserError):
            plan.date_start = self.DUE + timedelta(days=1)
        plan.note = "Customer confirmed by phone"  # free notes stay editable
