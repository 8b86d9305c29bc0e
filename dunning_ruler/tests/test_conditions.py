from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestLevelConditions(DunningCommon):
    def test_min_overdue_total_skips_and_never_refires(self):
        self._level(10).condition_min_amount = 500.0
        big = self._create_customer("Customer Big")
        self._invoice(self.customer, 100.0)
        self._invoice(big, 300.0)
        self._invoice(big, 300.0)
        self._run(self.DUE + timedelta(days=3))
        self._run(self.DUE + timedelta(days=10))
        skipped = self._events(state="skipped", date=self.DUE + timedelta(days=10))
        self.assertEqual(skipped.level_id, self._level(10))
        self.assertIn("overdue total 100.0 is below 500.0", skipped.failure_reason)
        self.assertEqual(
            self._events(big, state="done", date=self.DUE + timedelta(days=10)).level_id, self._level(10)
        )
        # Skipped counts as passed: nothing the next days, the next level fires on time.
        self.assertEqual(self._run(self.DUE + timedelta(days=11))["events"], 0)
        self._run(self.DUE + timedelta(days=15))
        self.assertEqual(
            self._events(state="done", date=self.DUE + timedelta(days=15)).level_id, self._level(15)
        )

    def test_min_overdue_invoices(self):
        self._level(3).condition_min_invoices = 2
        two = self._create_customer("Customer Two")
        self._invoice(self.customer, 100.0)
        self._invoice(two, 100.0)
        self._invoice(two, 100.0, due=self.DUE - timedelta(days=1))
        self._invoice(self.customer, 100.0, due=self.DUE + timedelta(days=30))  # not overdue: not counted
        self._run(self.DUE + timedelta(days=3))
        mine = self._events(date=self.DUE + timedelta(days=3), level_id=self._level(3).id)
        self.assertEqual(mine.state, "skipped")
        self.assertIn("1 overdue invoice(s), 2 required", mine.failure_reason)
        theirs = self._events(two, date=self.DUE + timedelta(days=3), level_id=self._level(3).id)
        self.assertEqual(theirs.state, "done")

    def test_partner_domain_catch_up_uses_highest_eligible_level(self):
        self._level(10).condition_partner_domain = "[('ref', '=', 'FLEET-LARGE')]"
        large = self._create_customer("Customer Large", ref="FLEET-LARGE")
        self._invoice(self.customer, 100.0)
        self._invoice(large, 100.0)
        self._run(self.DUE + timedelta(days=12))
        done = self._events(state="done")
        self.assertEqual(
            done.level_id, self._level(3), "Final filtered out: the overdue notice is sent instead"
        )
        cond = self._events(state="skipped", level_id=self._level(10).id)
        self.assertIn("customer filter", cond.failure_reason)
        self.assertEqual(self._events(large, state="done").level_id, self._level(10))
        self.assertEqual(self._run(self.DUE + timedelta(days=13))["events"], 0)

    def test_conditions_are_batched(self):
        """Planning cost does not grow with the number of customers."""
        level = self._level(3)
        level.write({"condition_min_amount": 50.0, "condition_partner_domain": "[('is_company', '=', True)]"})
        customers = [self._create_customer(f"Batch {i}") for i in range(8)]
        for partner in customers:
            self._invoice(partner, 100.0)
        Engine = self.env["dunning.engine"]
        day = self.DUE + timedelta(days=3)
        Engine._plan(day, self.company.ids, [customers[0].id])  # warm caches
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        Engine._plan(day, self.company.ids, [customers[1].id, customers[2].id])
        few = self.env.cr.sql_log_count - before
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        steps = Engine._plan(day, self.company.ids, [p.id for p in customers])
        many = self.env.cr.sql_log_count - before
        self.assertEqual(len([s for s in steps if not s.skipped]), 8)
        self.assertEqual(few, many)

    def test_invalid_conditions_are_refused(self):
        with self.assertRaises(ValidationError):
            self._level(3).condition_partner_domain = "[('no_such_field', '=', 1)]"
        with self.assertRaises(ValidationError):
            self._level(3).condition_min_amount = -1
