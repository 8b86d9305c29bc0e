import json

from odoo.tests import tagged

from .common import AccessCommon


@tagged("post_install", "-at_install")
class TestGuards(AccessCommon):
    def test_exempt_grade_never_restricted(self):
        vip = self._create_customer("Vip Customer", grade=self.grade_vip)
        binding = self._bind(vip, "601")
        self._invoice(vip, 5000.0)
        self._run(self._day(40))
        event = self._events(vip, channel="action", level_id=self.level_block.id)
        self.assertEqual(event.state, "skipped")
        self.assertIn("exempt", event.failure_reason)
        self.assertFalse(self._calls(binding))
        self.assertEqual(binding.access_state, "active")

    def test_exempt_reason_names_grade_in_reader_language(self):
        """Written once by the run (superuser, English), read in each reader's language,
        the grade's name in the same language."""
        for code in ("pt_BR", "es_ES"):
            self.env["res.lang"]._activate_lang(code)
        self.grade_vip.with_context(lang="pt_BR").name = "Cliente preferencial"
        self.grade_vip.with_context(lang="es_ES").name = "Cliente preferente"
        vip = self._create_customer("Vip Customer", grade=self.grade_vip)
        binding = self._bind(vip, "602")
        self._invoice(vip, 5000.0)
        self.env["dunning.ruler"].with_context(lang="en_US").sudo().run_dunning(as_of=self._day(20))
        self.assertEqual(
            binding.with_context(lang="en_US").state_reason, "Grade Vip is exempt from restriction"
        )
        self.assertEqual(
            binding.with_context(lang="pt_BR").state_reason,
            "A categoria Cliente preferencial é isenta de restrição",
        )
        self.assertEqual(
            binding.with_context(lang="es_ES").state_reason,
            "La categoría Cliente preferente está exenta de restricción",
        )
        event = self._events(vip, channel="action", level_id=self.level_restrict.id)
        self.assertEqual(event.state, "skipped")
        self.assertEqual(
            event.with_context(lang="pt_BR").failure_reason,
            "A categoria Cliente preferencial é isenta de restrição",
        )
        self.assertIn("La categoría Cliente preferente", event.with_context(lang="es_ES").message)
        # Searching in the reader's language finds the account.
        self.assertEqual(
            self.env["dunning.access.binding"]
            .with_context(lang="pt_BR")
            .search([("state_reason", "ilike", "isenta de restrição"), ("id", "=", binding.id)]),
            binding,
        )

    def test_call_reason_in_reader_language(self):
        self._invoice(self.customer, 900.0)
        for code in ("pt_BR", "es_ES"):
            self.env["res.lang"]._activate_lang(code)
        self.level_restrict.with_context(lang="pt_BR").name = "Restringir"
        self.env["dunning.ruler"].with_context(lang="en_US").sudo().run_dunning(as_of=self._day(15))
        call = self._calls(self.binding)
        self.assertEqual(len(call), 1)
        self.assertIn("Level", call.with_context(lang="en_US").reason)
        pt = call.with_context(lang="pt_BR").reason
        self.assertIn("Restringir", pt)
        self.assertNotIn("Level", pt)
        # The platform receives the English reason.
        self.assertIn("Level", json.loads(call.payload)["reason"])

    def test_exempt_grade_lifts_restriction(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.customer.dunning_grade_id = self.grade_vip
        self.assertEqual(self._calls(state="pending").action, "unblock")

    def test_partner_on_hold_is_not_escalated(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.customer.action_dunning_hold(self._day(45), "Promised for the 45th")
        self._run(self._day(30))
        self.assertFalse(self._events(level_id=self.level_block.id), "the engine skips customers on hold")
        # Even a scheduled check (the invoice already reached the block level before) does not block.
        self.env["account.move"].search(
            [("partner_id", "=", self.customer.id)]
        ).sudo().dunning_level_id = self.level_block
        self.binding._sync(today=self._day(30))
        self.assertEqual(self.binding.desired_state, "restricted")
        self.assertIn("hold", self.binding.state_reason)
        self.binding._sync(today=self._day(46))
        self.assertEqual(self.binding.desired_state, "blocked", "the hold is over")

    def test_disputed_invoice_never_restricts(self):
        invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        invoice.dunning_excluded = True
        self.assertEqual(self._calls(state="pending").action, "unblock")
        self._process()
        self.assertEqual(self.binding.access_state, "active")
        # Still disputed at the block date: nothing.
        self._run(self._day(30))
        self.assertEqual(self.binding.access_state, "active")
        self.assertFalse(self._calls(state="pending"))

    def test_no_block_without_notice(self):
        self.company.dunning_block_notice_days = 20
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._run(self._day(30))  # the last notice is 15 days old, 20 required
        event = self._events(level_id=self.level_block.id, channel="action")
        self.assertEqual(event.state, "skipped")
        self.assertIn("20 days", event.failure_reason)
        self.assertEqual(self.binding.desired_state, "restricted")
        # Once the notice is old enough, the scheduled check blocks.
        self.binding._sync(today=self._day(35))
        self.assertEqual(self.binding.desired_state, "blocked")

    def test_no_block_when_levels_send_no_notice(self):
        self.ruler.level_ids.write({"send_email": False})
        self._invoice(self.customer, 900.0)
        self._run(self._day(30))
        self.assertEqual(self.binding.desired_state, "restricted")
        self.assertIn("notice", self.binding.state_reason)

    def test_min_amount(self):
        self.ruler.min_amount = 1000.0
        small = self._invoice(self.customer, 600.0)
        self._run(self._day(30))
        self.assertFalse(self._calls(), "below the minimum: no level, no restriction")
        big = self._invoice(self.customer, 900.0, due=self._day(30))
        self._run(self._day(45))
        self.assertEqual(self._calls(state="pending").target_state, "restricted")
        self._process()
        # A partial payment below the minimum balance lifts it.
        self._pay(big, amount=800.0)
        self.assertEqual(self._calls(state="pending").action, "unblock")
        self.assertTrue(small)

    def test_partner_without_account(self):
        partner = self._create_customer("No Account")
        self._invoice(partner, 900.0)
        self._run(self._day(15))
        event = self._events(partner, channel="action")
        self.assertEqual(event.state, "skipped")
        self.assertIn("no platform account", event.failure_reason)

    def test_multi_company_isolation(self):
        company_b = self.setup_other_company(name="Company B")["company"]
        ruler_b = self._create_ruler("B ruler", [(15, "Restrict B")], company=company_b)
        ruler_b.level_ids.action = "restrict"
        grade_b = self.env["dunning.grade"].create(
            {"name": "B", "code": "B", "ruler_id": ruler_b.id, "company_id": company_b.id}
        )
        company_b.dunning_default_grade_id = grade_b
        platform_b = self.env["dunning.access.platform"].create(
            {
                "name": "Traccar B",
                "kind": "traccar",
                "base_url": self.sim.url,
                "auth_type": "token",
                "token": "test-token",
                "company_id": company_b.id,
            }
        )
        binding_b = self._bind(self.customer, "801", platform=platform_b)
        self._invoice(self.customer, 900.0)  # owed to company A only
        self._run(self._day(15))
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        self.assertEqual(binding_b.access_state, "active")
        self.assertFalse(self.sim.users[801]["limitCommands"])
        # A user of company A does not see company B's platform, accounts or calls.
        user_a = self._create_user("agent_a", "Agent A", "dunning_ruler.group_dunning_supervisor")
        Platform = self.env["dunning.access.platform"].with_user(user_a)
        self.assertEqual(Platform.search([("id", "in", (self.platform | platform_b).ids)]), self.platform)
        self.assertFalse(
            self.env["dunning.access.binding"].with_user(user_a).search([("id", "=", binding_b.id)])
        )

    def test_exemption_is_this_addons_field(self):
        field = self.env["dunning.grade"]._fields["exempt_from_restriction"]
        self.assertEqual(field._module, "dunning_ruler_access")
        # The main company's default grades (sudo: the test runs in another company).
        self.assertTrue(self.env.ref("dunning_ruler.dunning_grade_vip").sudo().exempt_from_restriction)
        self.assertFalse(self.env.ref("dunning_ruler.dunning_grade_standard").sudo().exempt_from_restriction)
        Grade = self.env["dunning.grade"]
        for view_type in ("list", "form"):
            self.assertIn('name="exempt_from_restriction"', Grade.get_view(view_type=view_type)["arch"])
        ruler_form = self.env["dunning.ruler"].get_view(view_type="form")["arch"]
        self.assertIn('name="exempt_from_restriction"', ruler_form)

    def test_default_rulers_restrict_and_block(self):
        def ref(xmlid):
            return self.env.ref(xmlid).sudo()  # the main company's default rulers

        self.assertEqual(ref("dunning_ruler.dunning_level_standard_restriction").action, "restrict")
        self.assertEqual(ref("dunning_ruler.dunning_level_standard_restriction").offset_days, 15)
        self.assertEqual(ref("dunning_ruler.dunning_level_standard_block").action, "block")
        self.assertEqual(ref("dunning_ruler.dunning_level_standard_block").offset_days, 30)
        self.assertEqual(ref("dunning_ruler.dunning_level_high_risk_restriction").action, "restrict")
        self.assertEqual(ref("dunning_ruler.dunning_level_high_risk_block").action, "block")
        self.assertEqual(self.env["res.company"].new({}).dunning_block_notice_days, 3)

    def test_decisions_follow_what_dunning_still_acts_on(self):
        """The access decision reads the same dunnable installments as a run (issue 13):
        an invoice under a payment arrangement or handed over, or a customer moved to a
        grade without dunning, no longer keeps the customer restricted."""
        from odoo import Command

        invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        day = self._day(16)
        plan = self.env["dunning.arrangement"].create(
            {
                "partner_id": self.customer.id,
                "date_start": day,
                "invoice_ids": [Command.set(invoice.ids)],
                "line_ids": [Command.create({"date": self._day(40), "amount": 900.0})],
            }
        )
        plan.action_confirm()
        self.binding._sync(today=day)
        self.assertEqual(self.binding.desired_state, "active", "a payment arrangement pauses dunning")
        plan.action_cancel()
        self.binding._sync(today=day)
        self.assertEqual(self.binding.desired_state, "restricted", "the plan is off: dunning resumes")
        self.customer.dunning_grade_id = self.grade_none
        self.binding._sync(today=day)
        self.assertEqual(self.binding.desired_state, "active", "a grade without dunning is never restricted")
