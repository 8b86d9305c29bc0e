from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import AccessCommon


@tagged("post_install", "-at_install")
class TestOutbox(AccessCommon):
    def _restrict(self):
        self.invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        return self._calls()

    def test_platform_down_for_hours_converges(self):
        call = self._restrict()
        self.sim.down = True
        delays = []
        for _attempt in range(5):
            before = fields.Datetime.now()
            self.assertEqual(self._process()["retry"], 1)
            self.assertEqual(call.state, "pending")
            self.assertIn("unreachable", call.error)
            delays.append(round((call.next_attempt - before).total_seconds() / 60))
            # Not due yet: a second worker run sends nothing.
            self.assertEqual(self._process(), {"sent": 0, "retry": 0, "attention": 0, "dry_run": 0})
            self._make_due(call)
        self.assertEqual(delays, [1, 2, 4, 8, 16], "exponential backoff")
        self.sim.down = False
        self.assertEqual(self._process()["sent"], 1)
        self.assertRecordValues(call, [{"state": "done", "attempts": 6, "error": False}])
        self.assertEqual(self.binding.access_state, "restricted")
        self.assertTrue(self.sim.users[501]["limitCommands"])

    def test_backoff_is_capped(self):
        call = self._restrict()
        self.sim.down = True
        call.sudo().attempts = 30
        self._process()
        self.assertLessEqual(call.next_attempt, fields.Datetime.now() + timedelta(seconds=3601))

    def test_server_errors_and_timeouts_are_retried(self):
        call = self._restrict()
        self.sim.fail_next(500, 2)
        self._process()
        self.assertEqual((call.state, call.http_status), ("pending", 500))
        self._make_due(call)
        self._process()
        self.assertEqual(call.attempts, 2)
        self._make_due(call)
        self.sim.delay = 1.5  # the platform timeout is 0.5s
        self._process()
        self.assertEqual(call.state, "pending")
        self.assertIn("Timeout", call.error)
        self.sim.delay = 0
        self._make_due(call)
        self._process()
        self.assertEqual((call.state, call.attempts), ("done", 4))
        self.assertTrue(self.sim.users[501]["limitCommands"])

    def test_too_many_requests_honours_retry_after(self):
        call = self._restrict()
        self.sim.fail_next(429, 1)
        self.sim.retry_after = 300
        self.addCleanup(setattr, self.sim, "retry_after", 1)
        before = fields.Datetime.now()
        self._process()
        self.assertEqual((call.state, call.http_status), ("pending", 429))
        # Retry-After (300s) wins over the first backoff step (60s).
        self.assertGreaterEqual(call.next_attempt, before + timedelta(seconds=299))
        self._make_due(call)
        self._process()
        self.assertEqual(call.state, "done")

    def test_concurrent_sending(self):
        self.platform.max_concurrency = 4
        bindings = self.binding
        for i in range(6):
            partner = self._create_customer(f"Fleet {i}")
            bindings |= self._bind(partner, str(900 + i))
            self.addCleanup(self.sim.users.pop, 900 + i)
            self._invoice(partner, 500.0)
        self._invoice(self.customer, 500.0)
        self._run(self._day(15))
        self.assertEqual(self._process()["sent"], 7)
        self.assertEqual(set(bindings.mapped("access_state")), {"restricted"})
        self.assertTrue(all(self.sim.users[900 + i]["limitCommands"] for i in range(6)))
        self.assertEqual(len(self._puts()), 6 + 3, "one PUT per user, the manager's sub-users included")

    def test_unauthorized_needs_attention_then_retry(self):
        call = self._restrict()
        # A token Traccar made, expired (TokenManager: 401; a string that is not a
        # token at all is a 400, see test_traccar_statuses).
        self.platform.token = self.sim.issue_token(
            self.sim.admin["id"], fields.Datetime.now() - timedelta(days=1)
        )
        self.assertEqual(self._process()["attention"], 1)
        self.assertEqual((call.state, call.http_status), ("attention", 401))
        self.assertIn("credentials", call.error)
        self.assertTrue(self.binding.needs_attention)
        self.assertEqual(self.binding.access_state, "pending_restriction")
        # Not retried by itself, not re-queued by the next run.
        self._make_due(call)
        self._run(self._day(16))
        self.assertEqual(self._process()["sent"], 0)
        self.platform.token = "test-token"
        self.platform.action_retry_attention()
        self._process()
        self.assertEqual(call.state, "done")
        self.assertEqual(self.binding.access_state, "restricted")

    def test_unknown_account_needs_attention(self):
        self.binding.external_ref = "999"
        call = self._restrict()
        self._process()
        self.assertEqual((call.state, call.http_status), ("attention", 404))
        self.assertIn("999", call.error)
        self.assertIn("does not exist", call.error)

    def test_permission_refused_400(self):
        # A manager account may only touch its own users: Traccar answers 400.
        self.sim.add_user("reseller@platform.test", "pw", user_id=700, userLimit=3)
        self.addCleanup(self.sim.users.pop, 700)
        self.platform.sudo().write(
            {"auth_type": "basic", "username": "reseller@platform.test", "password": "pw"}
        )
        call = self._restrict()
        self._process()
        self.assertEqual((call.state, call.http_status), ("attention", 400))
        self.assertIn("SecurityException", call.error)

    def test_block_then_unblock_before_sending_sends_nothing(self):
        call = self._restrict()
        self._pay(self.invoice)
        self.assertEqual(call.state, "superseded")
        self.assertFalse(self._calls(state="pending"), "active was already confirmed: nothing to send")
        self._process()
        self.assertFalse(self._puts())
        self.assertEqual(self.binding.access_state, "active")

    def test_later_decision_supersedes_pending_one(self):
        self.invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self._run(self._day(30))
        block = self._calls(state="pending")
        self.assertEqual(block.action, "block")
        self._pay(self.invoice)
        self.assertEqual(block.state, "superseded")
        unblock = self._calls(state="pending")
        self.assertEqual(unblock.action, "unblock")
        self._process()
        self.assertEqual(self.sim.users[501], self.original[501])

    def test_rerun_is_idempotent(self):
        call = self._restrict()
        self._process()
        self._run(self._day(15))
        self.env["dunning.access.binding"]._cron_sync_access()
        self.assertEqual(self._calls(), call, "nothing new to send")
        puts = len(self._puts())
        # Re-sending the same target changes nothing on the platform (no PUT).
        self.binding._set_desired("restricted", "again", force=True)
        self._process()
        self.assertEqual(len(self._puts()), puts)
