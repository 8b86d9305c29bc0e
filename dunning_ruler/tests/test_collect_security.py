from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestCollectMultiCompany(DunningCommon):
    def test_new_records_stay_in_their_company(self):
        other_company = self.setup_other_company()["company"]
        other_ruler = self._create_ruler(
            "Other ruler", [(5, "Other overdue"), (10, "Other handover")], company=other_company
        )
        agency = self.env["res.partner"].create({"name": "Agency", "email": "a@agency.example.com"})
        other_ruler.level_ids[1].write(
            {"action": "handover", "handover_partner_id": agency.id, "fee_mode": "fixed", "fee_amount": 7.0}
        )
        self.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10).write(
            {"action": "handover", "handover_partner_id": agency.id, "fee_mode": "fixed", "fee_amount": 5.0}
        )
        other_grade = self.env["dunning.grade"].create(
            {"name": "Other", "code": "O-STD", "ruler_id": other_ruler.id, "company_id": other_company.id}
        )
        other_company.dunning_default_grade_id = other_grade
        self._invoice(self.customer, 100.0)
        theirs_invoice = self._invoice(self.customer, 200.0, company=other_company)
        self._run(self.DUE + timedelta(days=10))
        handovers = self.env["dunning.handover"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(handovers.company_id, self.company | other_company)
        fees = self.env["dunning.fee"].search([("partner_id", "=", self.customer.id)])
        theirs_fee = fees.filtered(lambda f: f.company_id == other_company)
        self.assertEqual(theirs_fee.move_id, theirs_invoice)
        self.assertEqual(theirs_fee.fee_move_id.company_id, other_company)
        plan = (
            self.env["dunning.arrangement"]
            .with_company(other_company)
            .create(
                {
                    "partner_id": self.customer.id,
                    "company_id": other_company.id,
                    "date_start": self.DUE,
                    "line_ids": [Command.create({"date": self.DUE, "amount": 1.0})],
                }
            )
        )
        agent = self._create_user("agent_mc2", "Agent MC", "dunning_ruler.group_dunning_agent")
        for model, records in (("dunning.handover", handovers), ("dunning.fee", fees)):
            visible = self.env[model].with_user(agent).search([("partner_id", "=", self.customer.id)])
            self.assertEqual(visible, records.filtered(lambda r: r.company_id == self.company), model)
        self.assertFalse(self.env["dunning.arrangement"].with_user(agent).search([("id", "=", plan.id)]))
        self.assertFalse(
            self.env["dunning.arrangement.line"].with_user(agent).search([("id", "in", plan.line_ids.ids)])
        )
        with self.assertRaises(AccessError):
            self.env["dunning.fee"].with_user(agent).create(
                {
                    "date": self.DUE,
                    "move_id": theirs_invoice.id,
                    "level_id": other_ruler.level_ids[0].id,
                    "partner_id": self.customer.id,
                    "company_id": self.company.id,
                    "currency_id": self.currency.id,
                    "amount": 1.0,
                }
            )
