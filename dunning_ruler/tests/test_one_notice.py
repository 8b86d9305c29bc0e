"""One reminder per customer, company, run and channel (issue 16)."""

from datetime import timedelta

from odoo import Command, fields
from odoo.tests import tagged

from .common import DunningCommon, DunningRpcCase


@tagged("post_install", "-at_install")
class TestOneNotice(DunningCommon):
    def _comments(self, partner=None):
        return self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", (partner or self.customer).id),
                ("message_type", "=", "comment"),
            ]
        )

    def _mails(self, partner=None):
        return self.env["mail.mail"].search([("mail_message_id", "in", self._comments(partner).ids)])

    def _three_stages(self):
        """On D+10: one invoice at "Final" (due D), one at "Overdue" (due D+7), one at
        "Before due" (due D+12), one not due for a month (no level)."""
        final = self._invoice(self.customer, 1000.0)
        overdue = self._invoice(self.customer, 200.0, due=self.DUE + timedelta(days=7))
        before = self._invoice(self.customer, 30.0, due=self.DUE + timedelta(days=12))
        later = self._invoice(self.customer, 4.0, due=self.DUE + timedelta(days=40))
        return final, overdue, before, later

    def test_two_invoices_at_the_same_level_one_message(self):
        inv1 = self._invoice(self.customer, 100.0)
        inv2 = self._invoice(self.customer, 50.0)
        summary = self._run(self.DUE + timedelta(days=3))
        self.assertEqual(len(self._comments()), 1)
        self.assertEqual(len(self._mails()), 1)
        event = self._events(state="done", channel="email")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.invoice_ids, inv1 | inv2)
        self.assertFalse(event.merged_into_id)
        self.assertEqual(summary["events"], 2, "the overdue notice and one record of the two missed levels")

    def test_three_levels_one_message_listing_every_invoice(self):
        final, overdue, before, later = self._three_stages()
        day = self.DUE + timedelta(days=10)
        self._run(day)
        # One message, one queued mail, to the customer.
        message = self._comments()
        self.assertEqual(len(message), 1)
        self.assertEqual(len(self._mails()), 1)
        # Each invoice keeps its own level.
        self.assertEqual(final.dunning_level_id, self._level(10))
        self.assertEqual(overdue.dunning_level_id, self._level(3))
        self.assertEqual(before.dunning_level_id, self._level(-2))
        self.assertFalse(later.dunning_level_id)
        self.assertEqual(self.customer.dunning_level_id, self._level(10))
        # Every level executed has its event; the lower ones say where they went.
        emails = self._events(state="done", channel="email")
        self.assertEqual(emails.level_id, self._level(10) | self._level(3) | self._level(-2))
        sender = emails.filtered(lambda e: e.level_id == self._level(10))
        merged = emails - sender
        self.assertFalse(sender.merged_into_id)
        self.assertEqual(sender.mail_message_id, message)
        self.assertEqual(sender.merged_ids, merged)
        for event in merged:
            self.assertEqual(event.merged_into_id, sender)
            self.assertEqual(event.mail_message_id, message)
            self.assertIn("Included in the “Final” reminder", str(event.message))
        self.assertEqual(merged.filtered(lambda e: e.level_id == self._level(3)).invoice_ids, overdue)
        self.assertEqual(merged.filtered(lambda e: e.level_id == self._level(-2)).invoice_ids, before)
        self.assertEqual(sender.invoice_ids, final)
        # The message lists every open invoice: due date, days, stage, residual, totals.
        body = str(sender.message)
        for move in (final, overdue, before, later):
            self.assertIn(move.name, body)
        for text in (
            "10 day(s) overdue",
            "3 day(s) overdue",
            "due in 2 day(s)",
            "due in 30 day(s)",
            "Final",
            "Overdue",
            "Before due",
            "1,200.00",  # total overdue
            "1,234.00",  # total owed
        ):
            self.assertIn(text, body)
        # "Pay now" opens the customer's statement page, which works without a login.
        self.assertIn(f"/my/dunning/{self.customer.id}?access_token=", body)
        # Each invoice's chatter tells which level reached it.
        self.assertIn("“Overdue” included in the “Final” reminder", overdue.message_ids[:1].body)
        # A rerun sends nothing.
        self.assertEqual(self._run(day)["events"], 0)
        self.assertEqual(len(self._comments()), 1)

    def test_first_run_at_d10_marks_only_the_d10_level_done(self):
        invoice = self._invoice(self.customer, 1000.0)
        day = self.DUE + timedelta(days=10)
        self._run(day)
        done = self._events(state="done")
        self.assertEqual(done.level_id, self._level(10))
        self.assertEqual(invoice.dunning_level_id, self._level(10))
        missed = self._events(state="skipped")
        self.assertEqual(len(missed), 1)
        self.assertEqual(missed.skipped_level_ids, self._level(-2) | self._level(0) | self._level(3))
        self.assertEqual(missed.line_ids, self._payment_term_lines(invoice))
        # The invoice's history and the effectiveness report: reached "Final" only.
        self.assertEqual(invoice.dunning_event_ids, done | missed)
        report = self.env["dunning.effectiveness"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(report.level_id, self._level(10))
        # A rerun, the same day or the next, sends nothing.
        self.assertEqual(self._run(day)["events"], 0)
        self.assertEqual(self._run(day + timedelta(days=1))["events"], 0)
        self.assertEqual(len(self._comments()), 1)

    def test_a_lower_level_on_another_channel_still_sends_once(self):
        """The letter of "Overdue" is sent although "Final" sends no letter; activities
        are per level."""
        activity_type = self.env.ref("dunning_ruler.mail_activity_type_dunning_call")
        self._level(3).write(
            {"send_letter": True, "create_activity": True, "activity_type_id": activity_type.id}
        )
        self._level(10).write({"create_activity": True, "activity_type_id": activity_type.id})
        other = self._create_customer("Customer Other")
        for partner in (self.customer, other):
            self._invoice(partner, 1000.0)
            self._invoice(partner, 200.0, due=self.DUE + timedelta(days=7))
            self._invoice(partner, 100.0, due=self.DUE + timedelta(days=6))
        self._run(self.DUE + timedelta(days=10))
        for partner in (self.customer, other):
            self.assertEqual(len(self._comments(partner)), 1)
            letters = self._events(partner, channel="letter")
            self.assertEqual(len(letters), 1)
            self.assertEqual((letters.level_id, letters.state), (self._level(3), "done"))
            self.assertFalse(letters.merged_into_id)
            activities = self._events(partner, channel="activity")
            self.assertEqual(activities.level_id, self._level(3) | self._level(10))
            self.assertEqual(len(activities.activity_id), 2)

    def test_failed_message_fails_the_levels_it_includes(self):
        mute = self._create_customer("Customer Mute", email=False)
        self._invoice(mute, 100.0)
        self._invoice(mute, 100.0, due=self.DUE + timedelta(days=7))
        summary = self._run(self.DUE + timedelta(days=10))
        emails = self._events(mute, channel="email")
        self.assertEqual(emails.mapped("state"), ["failed", "failed"])
        self.assertTrue(all("no email" in e.failure_reason for e in emails))
        self.assertEqual(summary["failed"], 2)

    def test_preview_one_line_per_customer_and_channel(self):
        self._three_stages()
        preview = self.env["dunning.preview"].create(
            {"as_of": self.DUE + timedelta(days=10), "partner_ids": [Command.set(self.customer.ids)]}
        )
        preview._compute_lines()
        line = preview.line_ids
        self.assertEqual(len(line), 1)
        self.assertEqual((line.level_id, line.channel, line.is_main), (self._level(10), "email", True))
        self.assertEqual(line.included_levels, "Before due, Overdue")
        self.assertEqual(line.invoice_count, 3)
        self.assertAlmostEqual(line.amount, 1230.0)
        self.assertIn("Due today", line.skipped_levels)


@tagged("post_install", "-at_install")
class TestOneNoticeRpc(DunningRpcCase):
    """The contract as a client sees it over RPC: a dunning agent runs the dunning
    through ``call_kw`` (the date as JSON gives it, a string) and reads the result with
    its own rights."""

    def test_agent_run_over_rpc_one_message_each_invoice_its_level(self):
        agent = self._create_dunning_users("notice_rpc", admin=False, password=True)[0]
        final = self._invoice(self.customer, 1000.0)
        overdue = self._invoice(self.customer, 200.0, due=self.DUE + timedelta(days=7))
        before = self._invoice(self.customer, 30.0, due=self.DUE + timedelta(days=12))
        same_level = self._create_customer("Customer Same Level")
        pair = self._invoice(same_level, 10.0) | self._invoice(same_level, 20.0)
        day = fields.Date.to_string(self.DUE + timedelta(days=10))
        self.authenticate(agent.login, f"{agent.login}_pw")

        summary = self._call("dunning.ruler", "run_dunning", as_of=day)
        self.assertEqual(summary["date"], day)
        self.assertEqual(summary["partners"], 2)
        levels = {
            row["id"]: row["dunning_level_id"][0]
            for row in self._call(
                "account.move", "read", (final | overdue | before | pair).ids, ["dunning_level_id"]
            )
        }
        self.assertEqual(
            levels,
            {
                final.id: self._level(10).id,
                overdue.id: self._level(3).id,
                before.id: self._level(-2).id,
                **dict.fromkeys(pair.ids, self._level(10).id),
            },
        )
        for partner, moves in ((self.customer, final | overdue | before), (same_level, pair)):
            messages = self._call(
                "mail.message",
                "search_read",
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("message_type", "=", "comment"),
                ],
                ["body"],
            )
            self.assertEqual(len(messages), 1, partner.name)
            for move in moves:
                self.assertIn(move.name, messages[0]["body"])
            self.assertIn("Total owed", messages[0]["body"])
        # A rerun over RPC sends nothing.
        self.assertEqual(self._call("dunning.ruler", "run_dunning", as_of=day)["events"], 0)
        self.assertEqual(
            self.env["mail.message"].search_count(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "in", (self.customer | same_level).ids),
                    ("message_type", "=", "comment"),
                ]
            ),
            2,
        )
