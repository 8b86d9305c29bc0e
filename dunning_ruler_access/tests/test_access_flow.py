from freezegun import freeze_time

from odoo.tests import tagged

from .common import WEBHOOK_SECRET, AccessCommon

RESTRICT_FLAGS = ("limitCommands", "readonly", "deviceReadonly", "disableReports")


@tagged("post_install", "-at_install")
class TestAccessFlow(AccessCommon):
    def test_full_ruler_restrict_block_pay_unblock(self):
        invoice = self._invoice(self.customer, 900.0)
        for offset in (-2, 0, 3, 10):
            self._run(self._day(offset))
        self.assertFalse(self._calls(), "reminders never touch the platform")

        # D+15: restriction, sent over HTTP; the whole user is PUT back.
        self._run(self._day(15))
        call = self._calls()
        self.assertRecordValues(
            call, [{"action": "restrict", "state": "pending", "target_state": "restricted"}]
        )
        self.assertEqual(self.binding.access_state, "pending_restriction")
        self.assertEqual(self._process()["sent"], 1)
        self.assertEqual(call.state, "done")
        self.assertEqual(self.binding.access_state, "restricted")
        self.assertEqual(self.customer.access_state, "restricted")
        for uid in (501, 502, 503):
            user = self.sim.users[uid]
            self.assertTrue(all(user[flag] for flag in RESTRICT_FLAGS), uid)
            self.assertFalse(user["disabled"])
            # Everything else survived the PUT (e.g. the manager's user limit).
            self.assertEqual(
                {k: v for k, v in user.items() if k not in RESTRICT_FLAGS},
                {k: v for k, v in self.original[uid].items() if k not in RESTRICT_FLAGS},
            )
        event = self._events(level_id=self.level_restrict.id, channel="action")
        self.assertEqual(event.state, "done")
        self.assertIn("restricted", event.message)

        # D+30: block (a notice was sent 15 days before).
        self._run(self._day(30))
        self.assertEqual(self._calls(action="block").state, "pending")
        self._process()
        self.assertEqual(self.binding.access_state, "blocked")
        self.assertTrue(all(self.sim.users[uid]["disabled"] for uid in (501, 502, 503)))

        # Payment: the unblock is queued at once and the outbox cron woken up.
        triggers_before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron_outbox.id)])
        self._pay(invoice)
        unblock = self._calls(action="unblock")
        self.assertEqual(unblock.state, "pending")
        self.assertEqual(self.binding.access_state, "pending_unblock")
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron_outbox.id)]), triggers_before
        )
        self._process()
        self.assertEqual(self.binding.access_state, "active")
        self.assertFalse(self.binding.snapshot)
        # Exactly what was there before: the manager stays read-only, the garage too.
        for uid in (501, 502, 503):
            self.assertEqual(self.sim.users[uid], self.original[uid])
        self.assertTrue(self.sim.users[501]["readonly"])
        self.assertTrue(self.sim.users[503]["deviceReadonly"])

    def test_partial_payment_steps_down_from_block_to_restriction(self):
        old = self._invoice(self.customer, 400.0, due=self._day(-15))
        self._invoice(self.customer, 300.0)
        self._run(self._day(0))
        self._run(self._day(15))  # old at D+30 for itself, D+15 for the new one
        self._process()
        self.assertEqual(self.binding.confirmed_state, "blocked")
        self._pay(old)
        self.assertEqual(self._calls(state="pending").target_state, "restricted")
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        self.assertFalse(self.sim.users[501]["disabled"])
        self.assertTrue(self.sim.users[502]["limitCommands"])

    def test_new_sub_user_restored_too(self):
        invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.sim.add_user("late@customer.test", user_id=504, name="Late", readonly=True)
        self.sim.link(501, 504)
        self.addCleanup(self.sim.users.pop, 504)
        self.addCleanup(self.sim.managed.discard, (501, 504))
        self._run(self._day(30))
        self._process()
        self.assertTrue(self.sim.users[504]["disabled"])
        self._pay(invoice)
        self._process()
        self.assertFalse(self.sim.users[504]["disabled"])
        self.assertTrue(self.sim.users[504]["readonly"], "its own read-only flag is kept")
        self.assertFalse(self.sim.users[504]["limitCommands"])

    def test_webhook_platform_signed_payload(self):
        hook = self.env["dunning.access.platform"].create(
            {
                "name": "Portal",
                "kind": "webhook",
                "base_url": f"{self.sim.url}/webhook",
                "webhook_secret": WEBHOOK_SECRET,
                "company_id": self.company.id,
            }
        )
        partner = self._create_customer("Hooked Customer")
        binding = self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": hook.id, "external_ref": "acct-77"}
        )
        invoice = self._invoice(partner, 1200.0)
        self._run(self._day(15))
        call = self._calls(binding)
        self._process()
        self.assertEqual(call.state, "done")
        self.assertEqual(call.http_status, 204)
        self.assertEqual(len(self.sim.webhooks), 1, "the simulator verified the signature")
        delivery = self.sim.webhooks[0]
        payload = delivery["payload"]
        self.assertEqual(delivery["id"], call.idempotency_key)
        self.assertEqual(payload["event"], "access.restrict")
        self.assertEqual(payload["account_ref"], "acct-77")
        self.assertEqual(payload["idempotency_key"], call.idempotency_key)
        self.assertEqual(payload["level"]["offset_days"], 15)
        self.assertEqual(payload["amount_owed"], 1200.0)
        self.assertEqual([i["number"] for i in payload["invoices"]], [invoice.name])
        self.assertTrue(payload["reason"])
        self._pay(invoice)
        self._process()
        self.assertEqual(self.sim.webhooks[-1]["payload"]["event"], "access.unblock")
        self.assertEqual(binding.access_state, "active")

    def test_webhook_wrong_secret_needs_attention(self):
        hook = self.env["dunning.access.platform"].create(
            {
                "name": "Portal",
                "kind": "webhook",
                "base_url": f"{self.sim.url}/webhook",
                "webhook_secret": "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==",
                "company_id": self.company.id,
            }
        )
        partner = self._create_customer("Badly Signed")
        binding = self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": hook.id, "external_ref": "acct-78"}
        )
        self._invoice(partner, 1200.0)
        self._run(self._day(15))
        self._process()
        call = self._calls(binding)
        self.assertEqual((call.state, call.http_status), ("attention", 401))
        self.assertFalse(self.sim.webhooks)

    def test_provisional_unblock_expires(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        with freeze_time(self._day(16)):
            self.customer.action_dunning_trust(self._day(17), "Bank slip paid")
            self.assertEqual(self._calls(state="pending").action, "unblock")
            self._process()
            self.assertEqual(self.binding.access_state, "trusted")
            self.assertEqual(self.sim.users[501], self.original[501])
        with freeze_time(self._day(17)):
            self.env["dunning.access.binding"]._cron_sync_access()
            self.assertEqual(self.binding.access_state, "trusted", "still trusted on the last day")
        with freeze_time(self._day(18)):
            self.env["dunning.access.binding"]._cron_sync_access()
            self.assertFalse(self.binding.trust_until)
            self.assertEqual(self.binding.access_state, "restricted")
            self.assertTrue(self.sim.users[501]["limitCommands"])

    def test_promise_to_pay_restores_access_until_its_date(self):
        """The customer's promise on its statement page restores a restricted access
        until the promised date; unpaid, the daily check restricts it again and the
        runs resume."""
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        self.company.dunning_promise_max_days = 5
        with freeze_time(self._day(16)):
            notices = self.customer._dunning_portal_notices(self.company.ids)
            self.assertEqual([(n["key"], n["state"]) for n in notices], [("platform_access", "restricted")])
            self.customer._dunning_promise_to_pay(self.company, self._day(19))
            self.assertEqual(self.binding.trust_until, self._day(19))
            self.assertEqual(self.customer.dunning_hold_until, self._day(20))
            self._process()
            self.assertEqual(self.binding.access_state, "trusted")
            self.assertEqual(self.sim.users[501], self.original[501])
            [notice] = self.customer._dunning_portal_notices(self.company.ids)
            self.assertEqual(notice["state"], "trusted")
            self.assertIn("restricted again", notice["text"])
        with freeze_time(self._day(19)):
            self.env["dunning.access.binding"]._cron_sync_access()
            self.assertEqual(self.binding.access_state, "trusted", "still trusted on the promised day")
        with freeze_time(self._day(20)):
            self.env["dunning.access.binding"]._cron_sync_access()
            self.assertFalse(self.binding.trust_until)
            self.assertEqual(self.binding.access_state, "restricted")
            self.assertTrue(self.sim.users[501]["limitCommands"])

    def test_promise_to_pay_without_restriction_grants_nothing(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(3))
        self.assertEqual(self.binding.access_state, "active")
        with freeze_time(self._day(4)):
            self.customer._dunning_promise_to_pay(self.company, self._day(6))
        self.assertFalse(self.binding.trust_until)
        self.assertEqual(self.customer.dunning_hold_until, self._day(7))

    def test_dry_run_sends_nothing(self):
        self.platform.dry_run = True
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self.assertEqual(self._process()["dry_run"], 1)
        self.assertEqual(self._calls().state, "dry_run")
        self.assertFalse(self.sim.requests)
        self.assertEqual(self.binding.confirmed_state, "active")
