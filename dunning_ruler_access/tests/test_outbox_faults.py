import socket
import time
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..tools.platform_api import MAX_RESPONSE_BYTES, PlatformApi
from ..tools.traccar_api import TraccarApi
from ..tools.webhook_api import WebhookApi
from .common import AccessCommon
from .simulator.faults import scripted


@tagged("post_install", "-at_install")
class TestOutboxFaults(AccessCommon):
    """No single fault stops the outbox: each makes its own call need attention (or
    wait for a retry) and every other call is sent."""

    def setUp(self):
        super().setUp()
        self.faults = scripted(self.sim)
        self.addCleanup(self.faults.reset)
        self.other = self._create_customer("Other Fleet")
        self.other_binding = self._bind(self.other, "910")
        self.addCleanup(self.sim.users.pop, 910, None)

    def _queue_both(self, why="test"):
        calls = self.env["dunning.access.call"]
        for binding in (self.binding, self.other_binding):
            calls |= binding._set_desired("restricted", why, force=True)
        return calls

    def _assert_other_sent(self):
        self.assertEqual(self._calls(self.other_binding)[-1].state, "done")
        self.assertTrue(self.sim.users[910]["limitCommands"])

    def test_unexpected_answers_need_attention_others_go_on(self):
        cases = [
            ("not JSON", b"<html>Maintenance</html>", "text/html", "not JSON"),
            ("wrong shape", b"[1, 2]", "application/json", "Unexpected answer"),
            ("empty object", b"{}", "application/json", "KeyError"),
            ("huge body", b" " * (MAX_RESPONSE_BYTES + 10), "application/json", "larger than"),
        ]
        for name, body, content_type, expected in cases:
            with self.subTest(name):
                self.sim.users[910]["limitCommands"] = False
                call, _other = self._queue_both(name)
                self.faults.answer("GET", "/api/users/501", 200, body, content_type=content_type)
                summary = self._process()
                self.assertEqual((summary["attention"], summary["sent"]), (1, 1), summary)
                self.assertEqual(call.state, "attention")
                self.assertIn(expected, call.error)
                self.assertFalse(self.sim.users[501]["limitCommands"], "nothing was changed")
                self._assert_other_sent()

    def test_overflowing_retry_after_is_capped(self):
        call, _other = self._queue_both()
        self.faults.answer("PUT", "/api/users/501", 429, b"slow down", headers={"Retry-After": "9" * 40})
        before = fields.Datetime.now()
        summary = self._process()
        self.assertEqual((summary["retry"], summary["sent"]), (1, 1), summary)
        self.assertEqual((call.state, call.http_status), ("pending", 429))
        cap = timedelta(seconds=self.platform.retry_max_seconds + 1)
        self.assertLessEqual(call.next_attempt, before + cap)
        self.assertGreaterEqual(call.next_attempt, before + cap - timedelta(seconds=5))
        self._assert_other_sent()

    def test_retry_after_as_http_date(self):
        call, _other = self._queue_both()
        self.faults.answer(
            "PUT", "/api/users/501", 503, b"", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
        )
        before = fields.Datetime.now()
        self._process()
        # A date in the past: the backoff's first step (60 s) applies.
        self.assertEqual(call.state, "pending")
        self.assertLessEqual(call.next_attempt, before + timedelta(seconds=61))

    def test_webhook_platform_without_secret(self):
        hook = self.env["dunning.access.platform"].create(
            {"name": "Secretless", "kind": "webhook", "base_url": f"{self.sim.url}/webhook"}
        )
        hooked = self.env["dunning.access.binding"].create(
            {"partner_id": self._create_customer("Hooked").id, "platform_id": hook.id, "external_ref": "h-1"}
        )
        call = hooked._set_desired("restricted", "test")
        self._queue_both()
        summary = self._process()  # does not raise
        self.assertEqual((summary["attention"], summary["sent"]), (1, 2), summary)
        self.assertEqual(call.state, "attention")
        self.assertIn("no webhook secret", call.error)
        self.assertFalse(self.sim.webhooks)
        self._assert_other_sent()

    def test_kind_without_adapter(self):
        hook = self.env["dunning.access.platform"].create(
            {"name": "Orphan", "kind": "webhook", "base_url": f"{self.sim.url}/webhook"}
        )
        hooked = self.env["dunning.access.binding"].create(
            {
                "partner_id": self._create_customer("Orphaned").id,
                "platform_id": hook.id,
                "external_ref": "o-1",
            }
        )
        call = hooked._set_desired("restricted", "test")
        self._queue_both()
        PlatformApi.unregister("webhook")
        self.addCleanup(PlatformApi._registry.__setitem__, "webhook", WebhookApi)
        summary = self._process()
        self.assertEqual((summary["attention"], summary["sent"]), (1, 2), summary)
        self.assertEqual(call.state, "attention")
        self.assertIn("No adapter", call.error)
        self._assert_other_sent()

    def test_adapter_exception_in_one_call(self):
        self.platform.max_concurrency = 4
        original = TraccarApi.apply_state

        def apply_state(api, ref, *args, **kwargs):
            if ref == "501":
                raise RuntimeError("adapter bug")
            return original(api, ref, *args, **kwargs)

        call, _other = self._queue_both()
        with patch.object(TraccarApi, "apply_state", apply_state):
            summary = self._process()
        self.assertEqual((summary["attention"], summary["sent"]), (1, 1), summary)
        self.assertEqual(call.state, "attention")
        self.assertIn("RuntimeError: adapter bug", call.error)
        self._assert_other_sent()

    def test_max_attempts_needs_attention_and_schedules_activity(self):
        supervisor = self._create_user(
            "outbox_sup", "Outbox Supervisor", "dunning_ruler.group_dunning_supervisor"
        )
        self.platform.retry_max_attempts = 2
        call = self.binding._set_desired("restricted", "test")
        self.sim.fail_next(500, 5)
        self.assertEqual(self._process()["retry"], 1)
        self._make_due(call)
        self.assertEqual(self._process()["attention"], 1)
        self.assertEqual(call.state, "attention")
        self.assertIn("Gave up after 2 attempts", call.error)
        self.assertIn("HTTP 500", call.error)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        self.assertIn(supervisor, activities.user_id, "the company's dunning supervisors get a to-do")
        self.assertIn("needs attention", activities[0].summary)
        # A configured user instead; one open to-do each, not one per failure.
        self.platform.attention_user_id = supervisor
        call2 = self.other_binding._set_desired("restricted", "test")
        self.sim.reset_faults()
        self.sim.fail_next(401, 1)
        self._process()
        self.assertEqual(call2.state, "attention")
        other_activities = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.other.id)]
        )
        self.assertEqual(other_activities.user_id, supervisor)

    def test_max_age_needs_attention(self):
        self.platform.retry_max_age_hours = 2
        call = self.binding._set_desired("restricted", "test")
        call.sudo().queued_date = fields.Datetime.now() - timedelta(hours=3)
        self.sim.down = True
        self.assertEqual(self._process()["attention"], 1)
        self.assertIn("2 hours", call.error)
        self.assertIn("unreachable", call.error)

    def test_unreachable_platform_does_not_starve_others(self):
        # A platform that accepts connections and never answers: every exchange times out.
        blackhole = socket.socket()
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        self.addCleanup(blackhole.close)
        dead = self.env["dunning.access.platform"].create(
            {
                "name": "Silent",
                "kind": "traccar",
                "base_url": f"http://127.0.0.1:{blackhole.getsockname()[1]}",
                "auth_type": "token",
                "token": "t",
                "timeout": 0.5,
                "max_concurrency": 2,
            }
        )
        dead_calls = self.env["dunning.access.call"]
        for i in range(20):
            binding = self.env["dunning.access.binding"].create(
                {
                    "partner_id": self._create_customer(f"Silent {i}").id,
                    "platform_id": dead.id,
                    "external_ref": str(5000 + i),
                }
            )
            dead_calls |= binding._set_desired("restricted", "test")
        self._queue_both()
        start = time.monotonic()
        summary = self._process()
        elapsed = time.monotonic() - start
        self._assert_other_sent()
        self.assertEqual(self._calls(self.binding)[-1].state, "done")
        # One wave against the silent platform (max_concurrency calls, maybe one more each
        # picked up before the rest was cancelled), the rest wait for its backoff.
        self.assertLessEqual(summary["retry"], 4, summary)
        self.assertEqual(set(dead_calls.mapped("state")), {"pending"})
        self.assertEqual(sum(dead_calls.mapped("attempts")), summary["retry"])
        self.assertTrue(all(c.next_attempt > fields.Datetime.now() for c in dead_calls))
        self.assertLess(elapsed, 5, "20 timeouts of 0.5 s one after the other would take 10 s")

    def test_down_for_days_coalesces_one_call_per_account(self):
        self.invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(self.binding.confirmed_state, "restricted")
        self.sim.down = True
        self._run(self._day(30))  # block decided while down
        self._process()
        self.assertEqual(len(self._calls(state="pending")), 1)
        self.binding._sync(today=self._day(31))
        self._pay(self.invoice)  # then paid, days later
        self.binding._sync(today=self._day(33))
        self.assertEqual(
            len(self._calls(state="pending")), 1, "one pending call per account, the latest wish"
        )
        self.assertEqual(self._calls(state="pending").target_state, "active")
        self.sim.down = False
        self.sim.requests.clear()
        self._make_due(self._calls(state="pending"))
        self.assertEqual(self._process()["sent"], 1)
        self.assertEqual(len(self._puts()), 3, "one unblock (its 3 users), no replay of the block")
        self.assertEqual(self.binding.access_state, "active")
        for uid in (501, 502, 503):
            self.assertEqual(self.sim.users[uid], self.original[uid])

    def test_expired_lease_is_recovered(self):
        call = self.binding._set_desired("restricted", "test")
        # A worker claimed it, committed, and was killed before recording the answer.
        call.sudo().write({"state": "sending", "lease_until": fields.Datetime.now() - timedelta(seconds=1)})
        self.assertEqual(self._process()["sent"], 1)
        self.assertEqual((call.state, call.attempts), ("done", 2), "the lost attempt counts")
        self.assertEqual(self.binding.access_state, "restricted")

    def test_sending_call_is_never_superseded(self):
        block = self.binding._set_desired("blocked", "test")
        block.sudo().write({"state": "sending", "lease_until": fields.Datetime.now() + timedelta(hours=1)})
        unblock = self.binding._set_desired("active", "paid")
        self.assertEqual(block.state, "sending", "a call in flight is never rewritten")
        self.assertEqual((unblock.state, unblock.target_state), ("pending", "active"), "queued behind it")
        self.assertFalse(self._process()["sent"], "it waits for the call in flight")
        # The block lands: the unblock behind it is due at once and goes out in the same pass.
        block._record_result({"ok": True, "status": 200})
        self.assertEqual(self.binding.confirmed_state, "blocked")
        self._process()
        self.assertEqual(unblock.state, "done")
        self.assertEqual(self.binding.access_state, "active")

    def test_dry_run_turned_off_requeues(self):
        self.platform.dry_run = True
        call = self.binding._set_desired("restricted", "test")
        self._process()
        self.assertEqual(call.state, "dry_run")
        self.platform.dry_run = False
        queued = self._calls(state="pending")
        self.assertEqual(queued.target_state, "restricted")
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")

    def test_convergence_repair_by_scheduled_check(self):
        # A crash left the account diverged with no call: the scheduled check queues it.
        self.binding.sudo().write({"desired_state": "restricted"})
        self.assertFalse(self._calls())
        self.env["dunning.access.binding"]._cron_sync_access()
        # No invoice: the check decides "active" again, which the platform has: converged.
        self.assertEqual(self.binding.access_state, "active")
        self.binding.sudo().write({"desired_state": "restricted", "state_reason": "Level reached"})
        queued = self.env["dunning.access.binding"]._requeue_diverged()
        self.assertEqual(queued.binding_id, self.binding)
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        # A wish a person cancelled is left alone.
        call = self.binding._set_desired("active", "test")
        call.action_cancel()
        self.assertFalse(self.env["dunning.access.binding"]._requeue_diverged())

    def test_old_calls_removed_after_retention(self):
        self.assertEqual(self.company.dunning_access_call_retention_days, 180)
        old = self.binding._set_desired("restricted", "test")
        self._process()
        self.assertEqual(old.state, "done")
        recent = self.binding._set_desired("active", "test")
        self._process()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE dunning_access_call SET create_date = now() - interval '200 days' WHERE id = %s", [old.id]
        )
        messages = self.customer.message_ids.filtered(lambda m: "Restricted" in (m.body or ""))
        self.assertTrue(messages)
        self.env["dunning.access.binding"]._cron_sync_access()
        self.assertFalse(old.exists(), "past the retention")
        self.assertTrue(recent.exists())
        self.assertEqual(
            self.customer.message_ids.filtered(lambda m: "Restricted" in (m.body or "")),
            messages,
            "the chatter keeps the history",
        )
        # A call waiting for a person stays, whatever its age.
        stuck = self.other_binding._set_desired("restricted", "test")
        stuck.sudo().write({"state": "attention"})
        self.env.flush_all()
        self.env.cr.execute("UPDATE dunning_access_call SET create_date = now() - interval '2000 days'")
        self.assertEqual(self.env["dunning.access.call"]._purge_old_calls(), 1)
        self.assertFalse(recent.exists())
        self.assertTrue(stuck.exists())
        self.company.dunning_access_call_retention_days = 0
        self.other_binding._set_desired("active", "test")  # supersedes the stuck call
        self.assertEqual(stuck.state, "superseded")
        self.assertEqual(self.env["dunning.access.call"]._purge_old_calls(), 0, "0 keeps them forever")
