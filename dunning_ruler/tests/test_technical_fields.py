from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestTechnicalFields(DunningCommon):
    """Issue 15: a payment arrangement's state (and what confirming it records) is set
    by its actions only, never written by hand below system administrator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent, cls.supervisor, cls.admin = cls._create_dunning_users("tf")

    def _values(self, invoice, **extra):
        return {
            "partner_id": self.customer.id,
            "date_start": self.DUE + timedelta(days=4),
            "invoice_ids": [Command.set(invoice.ids)],
            "line_ids": [Command.create({"date": self.DUE + timedelta(days=10), "amount": 100.0})],
            **extra,
        }

    def test_arrangement_state_is_set_by_its_actions_only(self):
        invoice = self._invoice(self.customer, 100.0)
        for user in (self.agent, self.supervisor):
            Arrangement = self.env["dunning.arrangement"].with_user(user)
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    Arrangement.create(self._values(invoice, state="active"))
                with self.assertRaises(AccessError):
                    Arrangement.with_context(default_state="done").create(self._values(invoice))
                plan = Arrangement.create(self._values(invoice, state="draft"))  # as the form sends it
                for values in ({"state": "active"}, {"state": "done"}, {"amount_arranged": 1.0}):
                    with self.assertRaises(AccessError):
                        plan.write(values)
                plan.write({"note": "Calls back on Friday", "state": "draft"})
                plan.action_cancel()
                self.assertEqual(plan.state, "cancel")
        plan = self.env["dunning.arrangement"].with_user(self.agent).create(self._values(invoice))
        plan.action_confirm()
        self.assertEqual((plan.state, plan.amount_arranged), ("active", 100.0))
        plan.action_cancel()
        self.assertEqual(plan.state, "cancel")
        # A system administrator may repair a record.
        plan.with_user(self.admin).write({"state": "broken", "broken_reason": "repaired"})
        self.assertEqual(plan.state, "broken")
