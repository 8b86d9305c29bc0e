from datetime import timedelta

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningSecurity(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plain_user = cls._create_user("clerk", "Billing clerk", "account.group_account_invoice")
        cls.agent, cls.supervisor = cls._create_dunning_users("sec", admin=False)

    def test_plain_user_cannot_run_nor_see_events(self):
        with self.assertRaises(AccessError):
            self.env["dunning.ruler"].with_user(self.plain_user).run_dunning(as_of=self.DUE)
        with self.assertRaises(AccessError):
            self.env["dunning.event"].with_user(self.plain_user).search([])
        with self.assertRaises(AccessError):
            self.ruler.with_user(self.plain_user).min_amount = 5

    def test_agent_runs_sees_holds_and_excludes_but_cannot_configure(self):
        invoice = self._invoice(self.customer, 100.0)
        summary = (
            self.env["dunning.ruler"].with_user(self.agent).run_dunning(as_of=self.DUE + timedelta(days=3))
        )
        self.assertEqual(summary["done"], 1)
        events = (
            self.env["dunning.event"].with_user(self.agent).search([("partner_id", "=", self.customer.id)])
        )
        self.assertEqual(len(events.filtered(lambda e: e.state == "done")), 1)
        self.customer.with_user(self.agent).action_dunning_hold(
            self.DUE + timedelta(days=30), "Pays on the 15th"
        )
        self.assertEqual(self.customer.dunning_hold_until, self.DUE + timedelta(days=30))
        with self.assertRaises(AccessError):
            self.customer.with_user(self.plain_user).action_dunning_hold(self.DUE, "no rights")
        invoice.with_user(self.agent).write({"dunning_excluded": True, "dunning_exclusion_reason": "dispute"})
        with self.assertRaises(AccessError):
            self.ruler.with_user(self.agent).min_amount = 5
        with self.assertRaises(AccessError):
            self.env["dunning.grade"].with_user(self.agent).create(
                {"name": "x", "code": "x", "ruler_id": self.ruler.id}
            )
        with self.assertRaises(AccessError):
            events.with_user(self.agent).unlink()

    def test_supervisor_configures(self):
        self.ruler.with_user(self.supervisor).min_amount = 5
        level = (
            self.env["dunning.level"]
            .with_user(self.supervisor)
            .create({"ruler_id": self.ruler.id, "name": "Extra", "offset_days": 45})
        )
        self.assertEqual(level.ruler_id, self.ruler)
        grade = (
            self.env["dunning.grade"]
            .with_user(self.supervisor)
            .create({"name": "New", "code": "NEW", "ruler_id": self.ruler.id})
        )
        self.assertEqual(grade.company_id, self.company)
