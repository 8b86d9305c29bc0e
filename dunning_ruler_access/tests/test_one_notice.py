"""One reminder per customer and run (issue 16): the platform actions still apply level by level."""

from datetime import timedelta

from odoo.tests import tagged

from .common import AccessCommon


@tagged("post_install", "-at_install")
class TestAccessOneNotice(AccessCommon):
    def test_restrict_and_block_each_apply_with_one_reminder(self):
        blocked = self._invoice(self.customer, 900.0)  # D+30 on the run date: "Block"
        restricted = self._invoice(self.customer, 100.0, due=self.DUE + timedelta(days=15))  # "Restrict"
        # D+15: restricted, and the notice a block needs 15 days before is sent.
        self._run(self._day(15))
        self._process()
        self.sim.requests.clear()
        earlier = self._events()
        self._run(self._day(30))
        self.assertEqual(blocked.dunning_level_id, self.level_block)
        self.assertEqual(restricted.dunning_level_id, self.level_restrict)
        actions = self._events(channel="action") - earlier
        self.assertEqual(actions.level_id, self.level_restrict | self.level_block)
        self.assertEqual(actions.mapped("state"), ["done", "done"])
        self.assertFalse(actions.merged_into_id, "actions are not messages: each level applies its own")
        self.assertEqual(
            actions.filtered(lambda e: e.level_id == self.level_restrict).invoice_ids, restricted
        )
        # One reminder, of the block level, listing both invoices.
        emails = self._events(channel="email", state="done") - earlier
        sender = emails.filtered(lambda e: not e.merged_into_id)
        self.assertEqual(sender.level_id, self.level_block)
        self.assertEqual((emails - sender).merged_into_id, sender)
        messages = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", self.customer.id),
                ("message_type", "=", "comment"),
                ("id", "not in", earlier.mail_message_id.ids),
            ]
        )
        self.assertEqual(messages, sender.mail_message_id)
        for move in (blocked, restricted):
            self.assertIn(move.name, str(sender.message))
        # The platform ends blocked.
        self.assertEqual(self._calls(action="block").state, "pending")
        self._process()
        self.assertEqual(self.binding.access_state, "blocked")
        # A rerun does nothing.
        self.assertEqual(self._run(self._day(30))["events"], 0)
