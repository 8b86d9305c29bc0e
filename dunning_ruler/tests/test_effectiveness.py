from datetime import timedelta

from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningEffectiveness(DunningCommon):
    def test_paid_within_3_7_30_days(self):
        """Hand-computed:

        * Customer: 1000 due D. "Overdue" executed at D+3 on 1000 owed; paid 300 at D+5
          (<= D+6), 200 at D+9 (<= D+10), 100 at D+25 (<= D+33): 300 / 500 / 600, i.e.
          30% / 50% / 60%. "Final" executed at D+10 on 500 still owed; only the 100 of
          D+25 follows it: 0 / 0 / 100, i.e. 0% / 0% / 20%.
        * VIP (grace 5 days): 400 due D. "Due today" executed at D+3 (catch-up), "Overdue"
          at D+8; paid 400 at D+8: 0 / 400 / 400 after the first, 400 in each window after
          the second.
        """
        invoice = self._invoice(self.customer, 1000.0)
        vip = self._create_customer("Customer VIP", grade=self.grade_vip)
        vip_invoice = self._invoice(vip, 400.0)
        D = self.DUE
        self._run(D + timedelta(days=3))
        self._pay(invoice, 300.0, payment_date=D + timedelta(days=5))
        self._run(D + timedelta(days=8))
        self._pay(vip_invoice, 400.0, payment_date=D + timedelta(days=8))
        self._pay(invoice, 200.0, payment_date=D + timedelta(days=9))
        self._run(D + timedelta(days=10))
        self._pay(invoice, 100.0, payment_date=D + timedelta(days=25))

        Eff = self.env["dunning.effectiveness"]
        figures = Eff._get_figures([("partner_id", "in", (self.customer | vip).ids)])
        by_name = {(level.name, grade.name): values for (level, grade), values in figures.items()}
        self.assertEqual(
            set(by_name), {("Overdue", "Std"), ("Final", "Std"), ("Due today", "Vip"), ("Overdue", "Vip")}
        )

        def check(key, due, paid, shares):
            values = by_name[key]
            self.assertAlmostEqual(values["amount_due"], due)
            self.assertEqual([round(values[f"paid_{d}"], 2) for d in (3, 7, 30)], paid, key)
            self.assertEqual([round(values[f"share_{d}"], 2) for d in (3, 7, 30)], shares, key)

        check(("Overdue", "Std"), 1000.0, [300.0, 500.0, 600.0], [30.0, 50.0, 60.0])
        check(("Final", "Std"), 500.0, [0.0, 0.0, 100.0], [0.0, 0.0, 20.0])
        check(("Due today", "Vip"), 400.0, [0.0, 400.0, 400.0], [0.0, 100.0, 100.0])
        check(("Overdue", "Vip"), 400.0, [400.0, 400.0, 400.0], [100.0, 100.0, 100.0])

        # Per grade, the share is the ratio of the sums (700 / 1500), not the mean of the rows.
        per_grade = dict(
            Eff._read_group([("partner_id", "=", self.customer.id)], ["grade_id"], ["share_30:avg"])
        )
        self.assertAlmostEqual(per_grade[self.grade_standard], 100.0 * 700 / 1500, places=2)
        # Skipped lower levels and channels do not make rows of their own.
        self.assertEqual(Eff.search_count([("partner_id", "=", self.customer.id)]), 2)
