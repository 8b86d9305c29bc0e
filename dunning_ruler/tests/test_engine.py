from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningEngine(DunningCommon):
    def _timeline(self, partner, start=-3, end=31):
        """Run every day from D+start to D+end; return {offset: [level names done that day]}."""
        fired = {}
        for offset in range(start, end + 1):
            day = self.DUE + timedelta(days=offset)
            self._run(day)
            events = self._events(partner, date=day, state="done")
            if events:
                fired[offset] = events.level_id.mapped("name")
        return fired

    def test_timeline_standard(self):
        invoice = self._invoice(self.customer, 1000.0)
        fired = self._timeline(self.customer)
        self.assertEqual(
            fired,
            {
                -2: ["Before due"],
                0: ["Due today"],
                3: ["Overdue"],
                10: ["Final"],
                15: ["Restrict"],
                30: ["Block"],
            },
        )
        self.assertEqual(invoice.dunning_level_id.name, "Block")
        self.assertEqual(invoice.dunning_last_date, self.DUE + timedelta(days=30))
        self.assertEqual(self.customer.dunning_level_id.name, "Block")
        self.assertFalse(self._events(self.customer, state="skipped"))

    def test_timeline_vip_grace_shifts_overdue_levels_only(self):
        vip = self._create_customer("Customer VIP", grade=self.grade_vip)
        self._invoice(vip, 500.0)
        fired = self._timeline(vip)
        self.assertEqual(
            fired,
            {-2: ["Before due"], 0: ["Due today"], 8: ["Overdue"], 15: ["Final"], 20: ["Restrict"]},
            "grace of 5 days shifts only the levels after the due date; block at D+35 is beyond D+31",
        )

    def test_timeline_high_risk_own_ruler(self):
        risky = self._create_customer("Customer Risk", grade=self.grade_risk)
        self._invoice(risky, 500.0)
        fired = self._timeline(risky, start=-6)
        self.assertEqual(fired, {-5: ["Early"], 0: ["Due"], 1: ["Late"], 7: ["Restrict"], 15: ["Block"]})

    def test_no_dunning_grade(self):
        quiet = self._create_customer("Customer Never", grade=self.grade_none)
        self._invoice(quiet, 500.0)
        self.assertEqual(self._timeline(quiet), {})
        self.assertFalse(self._events(quiet))

    def test_rerun_same_day_creates_nothing(self):
        self._invoice(self.customer, 1000.0)
        day = self.DUE + timedelta(days=3)
        first = self._run(day)
        messages = self.env["mail.message"].search_count(
            [("model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        second = self._run(day)
        self.assertEqual(first["events"], 2, "one record of the missed levels (D-2, D0) + the overdue notice")
        self.assertEqual(second["events"], 0)
        self.assertEqual(
            self.env["mail.message"].search_count(
                [("model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
            ),
            messages,
        )

    def test_catch_up_only_highest_level_communicates(self):
        invoice = self._invoice(self.customer, 1000.0)
        self._run(self.DUE + timedelta(days=12))
        done = self._events(state="done")
        skipped = self._events(state="skipped")
        self.assertEqual(done.level_id.mapped("name"), ["Final"])
        # The missed levels: one record for the customer and run, listing them and the installments.
        self.assertEqual(len(skipped), 1)
        self.assertFalse(skipped.level_id)
        self.assertEqual(sorted(skipped.skipped_level_ids.mapped("offset_days")), [-2, 0, 3])
        self.assertEqual(skipped.invoice_ids, invoice)
        for name in ("Before due", "Due today", "Overdue", invoice.name):
            self.assertIn(name, skipped.failure_reason)
        self.assertEqual(invoice.dunning_level_id.name, "Final")
        # Emails: only one message was posted for the customer.
        mails = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", self.customer.id),
                ("message_type", "=", "comment"),
            ]
        )
        self.assertEqual(len(mails), 1)

    def test_grouped_message_lists_every_invoice_with_exact_sums(self):
        inv1 = self._invoice(self.customer, 1234.56)
        inv2 = self._invoice(self.customer, 100.0)
        self._pay(inv2, 40.0, payment_date=self.DUE)
        # Not due yet: no level, but listed with the days left (one reminder lists every
        # open invoice of the customer); in the total owed, not in the total overdue.
        inv3 = self._invoice(self.customer, 999.0, due=self.DUE + timedelta(days=20))
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done", channel="email")
        self.assertEqual(len(event), 1)
        self.assertEqual(event.invoice_ids, inv1 | inv2)
        self.assertAlmostEqual(event.amount_due, 1234.56 + 60.0)
        message = event.mail_message_id
        self.assertTrue(message)
        self.assertEqual(message.partner_ids, self.customer)
        body = str(event.message)
        for text in (inv1.name, inv2.name, inv3.name, "1,234.56", "60.00", "1,294.56", "2,293.56"):
            self.assertIn(text, body)
        self.assertIn("3 day(s) overdue", body)
        self.assertIn("due in 17 day(s)", body)
        token = self.customer.sudo().dunning_statement_token
        self.assertTrue(token)
        self.assertIn(
            f"/my/dunning/{self.customer.id}?access_token={token}&amp;company_id={self.company.id}", body
        )
        # The mail is queued, not sent during the run.
        mail = self.env["mail.mail"].search([("mail_message_id", "=", message.id)])
        self.assertEqual(mail.state, "outgoing")

    def test_partial_payment_reduces_sum_and_full_payment_stops(self):
        invoice = self._invoice(self.customer, 1000.0)
        self._run(self.DUE)
        self._pay(invoice, 300.0, payment_date=self.DUE + timedelta(days=1))
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done", date=self.DUE + timedelta(days=3))
        self.assertAlmostEqual(event.amount_due, 700.0)
        self.assertIn("700.00", str(event.message))
        self._pay(invoice, 700.0, payment_date=self.DUE + timedelta(days=4))
        self.assertEqual(
            self.customer.dunning_level_id, self.env["dunning.level"], "paid: no open invoice at a level"
        )
        summary = self._run(self.DUE + timedelta(days=10))
        self.assertEqual(summary["events"], 0)

    def test_installments_each_climb_from_their_own_due_date(self):
        term = self.env["account.payment.term"].create(
            {
                "name": "Two installments",
                "line_ids": [
                    Command.create({"value": "percent", "value_amount": 50, "nb_days": 0}),
                    Command.create({"value": "percent", "value_amount": 50, "nb_days": 30}),
                ],
            }
        )
        invoice = self._invoice(self.customer, 1000.0, payment_term=term, invoice_date=self.DUE)
        first, second = self._payment_term_lines(invoice).sorted("date_maturity")
        self.assertEqual(second.date_maturity, self.DUE + timedelta(days=30))
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done")
        self.assertEqual(event.line_ids, first)
        self.assertAlmostEqual(event.amount_due, 500.0)
        # The second installment gets its own friendly reminder before its own due date.
        self._run(self.DUE + timedelta(days=28))
        event = self._events(state="done", date=self.DUE + timedelta(days=28))
        self.assertEqual(sorted(event.mapped("level_id.name")), ["Before due", "Restrict"])
        before_due = event.filtered(lambda e: e.level_id.name == "Before due")
        self.assertEqual(before_due.line_ids, second)
        self.assertEqual(invoice.dunning_level_id.name, "Restrict", "the invoice shows its highest level")

    def test_hold_until_promise_date(self):
        self._invoice(self.customer, 1000.0)
        self.customer.dunning_hold_until = self.DUE + timedelta(days=5)
        self._run(self.DUE + timedelta(days=3))
        self.assertFalse(self._events())
        self._run(self.DUE + timedelta(days=5))
        self.assertEqual(self._events(state="done").level_id.mapped("name"), ["Overdue"])

    def test_dispute_excludes_until_cleared(self):
        invoice = self._invoice(self.customer, 1000.0)
        invoice.write({"dunning_excluded": True, "dunning_exclusion_reason": "Wrong quantity"})
        self._run(self.DUE + timedelta(days=3))
        self.assertFalse(self._events())
        invoice.dunning_excluded = False
        self._run(self.DUE + timedelta(days=4))
        self.assertEqual(self._events(state="done").invoice_ids, invoice)

    def test_min_amount(self):
        self.ruler.min_amount = 50.0
        small = self._invoice(self.customer, 30.0)
        self._run(self.DUE + timedelta(days=3))
        self.assertFalse(self._events())
        self._invoice(self.customer, 30.0, due=self.DUE + timedelta(days=10))  # not due, but owed
        self._run(self.DUE + timedelta(days=4))
        self.assertEqual(self._events(state="done").invoice_ids, small, "balance 60 >= 50: dunned")

    def test_multi_currency_amounts(self):
        eur = self.setup_other_currency("EUR", rates=[("2026-01-01", 2.0)])
        inv_eur = self._invoice(self.customer, 500.0, currency=eur)
        self._run(self.DUE + timedelta(days=3))
        event = self._events(state="done")
        self.assertEqual(event.currency_id, eur)
        self.assertAlmostEqual(event.amount_due, 500.0)
        self.assertIn(inv_eur.name, str(event.message))
        # Mixed currencies: amount in company currency, totals per currency in the message.
        other = self._create_customer("Customer Mixed")
        self._invoice(other, 500.0, currency=eur)
        self._invoice(other, 100.0)
        self._run(self.DUE + timedelta(days=3))
        mixed = self._events(other, state="done")
        self.assertEqual(mixed.currency_id, self.company.currency_id)
        self.assertAlmostEqual(mixed.amount_due, 250.0 + 100.0)
        self.assertEqual(len(mixed._get_totals_by_currency()), 2)

    def test_language_of_partner_formats_amounts(self):
        self.env["res.lang"]._activate_lang("pt_BR")
        brazilian = self._create_customer("Cliente Brasil", lang="pt_BR")
        self._invoice(brazilian, 1234.5)
        self._run(self.DUE + timedelta(days=3))
        event = self._events(brazilian, state="done")
        self.assertIn("1.234,50", str(event.message))

    def test_missing_email_fails_without_blocking_others(self):
        mute = self._create_customer("Customer Mute", email=False)
        self._invoice(mute, 100.0)
        self._invoice(self.customer, 100.0)
        summary = self._run(self.DUE + timedelta(days=3))
        failed = self._events(mute, state="failed")
        self.assertEqual(len(failed), 1)
        self.assertIn("no email", failed.failure_reason)
        self.assertEqual(len(self._events(state="done")), 1)
        self.assertEqual(summary["failed"], 1)
        # A failed level is not retried every day (the event is the source of truth).
        self.assertFalse(self._run(self.DUE + timedelta(days=4))["events"])

    def test_activity_channel(self):
        level = self.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 10)
        level.write(
            {
                "create_activity": True,
                "activity_type_id": self.env.ref("dunning_ruler.mail_activity_type_dunning_call").id,
                "activity_summary": "Call them",
            }
        )
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=10))
        event = self._events(state="done", channel="activity")
        self.assertEqual(event.activity_id.summary, "Call them")
        self.assertEqual(event.activity_id.res_id, self.customer.id)

    def test_credit_notes_and_other_move_types_ignored(self):
        refund = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": self.customer.id,
                "invoice_date": self.DUE,
                "invoice_line_ids": [
                    Command.create({"name": "x", "quantity": 1, "price_unit": 100.0, "tax_ids": []})
                ],
            }
        )
        refund.action_post()
        draft = self._invoice(self.customer, 100.0, post=False)
        self._run(self.DUE + timedelta(days=3))
        self.assertFalse(self._events())
        self.assertFalse(draft.dunning_level_id)

    def test_multi_company_isolation(self):
        other_company = self.setup_other_company()["company"]
        other_ruler = self._create_ruler("Other ruler", [(5, "Other overdue")], company=other_company)
        other_grade = self.env["dunning.grade"].create(
            {"name": "Other", "code": "O-STD", "ruler_id": other_ruler.id, "company_id": other_company.id}
        )
        other_company.dunning_default_grade_id = other_grade
        self._invoice(self.customer, 100.0)
        self._invoice(self.customer, 200.0, company=other_company)
        self._run(self.DUE + timedelta(days=5))
        events = self._events(state="done")
        self.assertEqual(len(events), 2)
        ours = events.filtered(lambda e: e.company_id == self.company)
        theirs = events.filtered(lambda e: e.company_id == other_company)
        self.assertEqual(ours.level_id.name, "Overdue")
        self.assertEqual(theirs.level_id, other_ruler.level_ids)
        self.assertAlmostEqual(theirs.amount_due, 200.0)
        # A user of our company only sees our company's events.
        user = self._create_user("agent_mc", "Agent", "dunning_ruler.group_dunning_agent")
        visible = self.env["dunning.event"].with_user(user).search([("partner_id", "=", self.customer.id)])
        self.assertEqual(visible, self._events().filtered(lambda e: e.company_id == self.company))
        self.assertIn(ours, visible)
        self.assertNotIn(theirs, visible)

    def test_concurrent_run_skips_locked_customers(self):
        from ..models.dunning_engine import LOCK_NAMESPACE

        self._invoice(self.customer, 100.0)
        with self.env.registry.cursor() as other_cr:
            other_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, self.customer.id))
            summary = self._run(self.DUE + timedelta(days=3))
            self.assertEqual(summary["locked"], 1)
            self.assertFalse(self._events())
        summary = self._run(self.DUE + timedelta(days=3))
        self.assertEqual(summary["locked"], 0)
        self.assertEqual(len(self._events(state="done")), 1)

    def _advisory_locks_held(self):
        self.env.cr.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        )
        return self.env.cr.fetchone()[0]

    def test_run_in_one_transaction_holds_one_lock_whatever_the_customers(self):
        """A run in one transaction (UI, shell, server action) used to keep one advisory
        lock per customer until its commit: past PostgreSQL's lock table (about 6,400
        by default) it failed with "out of shared memory". It now holds the run lock
        only, while a customer locked elsewhere is still left alone."""
        from ..models.dunning_engine import LOCK_NAMESPACE

        customers = self.env["res.partner"].create([{"name": f"Lock customer {i}"} for i in range(12)])
        for customer in customers:
            self._invoice(customer, 50.0)
        self.env["ir.config_parameter"].sudo().set_param("dunning_ruler.batch_size", 5)
        with self.env.registry.cursor() as other_cr:
            other_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, customers[3].id))
            summary = self._run(self.DUE + timedelta(days=3))
        self.assertEqual(summary["locked"], 1)
        self.assertEqual(summary["partners"], 11)
        self.assertEqual(self._advisory_locks_held(), 1, "only the run lock is kept until the commit")
        self.assertFalse(self._events(customers[3]))

    def test_batches_and_manual_steps_wait_for_a_run_in_one_transaction(self):
        """While a run in one transaction holds the run lock, a scheduled batch or a
        manual step gets no customer; a run in one transaction does not start while a
        batch is under way."""
        from odoo.exceptions import UserError

        from ..models.dunning_engine import LOCK_NAMESPACE, RUN_LOCK_KEY

        self._invoice(self.customer, 100.0)
        Engine = self.env["dunning.engine"]
        self.env["ir.config_parameter"].sudo().set_param("dunning_ruler.run_lock_wait", 0)
        with self.env.registry.cursor() as other_cr:
            other_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, RUN_LOCK_KEY))
            self.assertEqual(Engine._lock_partners(self.customer.ids), [])
            with self.assertRaises(UserError):
                self.customer.action_dunning_send_next_level()
        with self.env.registry.cursor() as other_cr:
            other_cr.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", (LOCK_NAMESPACE, RUN_LOCK_KEY))
            with self.assertRaises(UserError):
                self._run(self.DUE + timedelta(days=3))
        self.assertEqual(Engine._lock_partners(self.customer.ids), self.customer.ids)

    def test_cron_is_daily_and_calls_entry_point(self):
        cron = self.env.ref("dunning_ruler.ir_cron_dunning_run")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.assertIn("_cron_run_dunning", cron.code)
        self._invoice(self.customer, 100.0)
        with freeze_time(self.DUE + timedelta(days=3)):
            summary = self.env["dunning.ruler"]._cron_run_dunning()
        self.assertEqual(summary["date"], str(self.DUE + timedelta(days=3)))
        self.assertEqual(self._events(state="done").level_id.name, "Overdue")

    def test_preview_has_no_side_effect(self):
        invoice = self._invoice(self.customer, 100.0)
        steps = self.env["dunning.engine"]._preview(as_of=self.DUE + timedelta(days=3))
        mine = [s for s in steps if s.partner_id == self.customer.id]
        self.assertEqual([(s.offset_days, s.skipped) for s in mine], [(-2, True), (0, True), (3, False)])
        self.assertFalse(self._events())
        self.assertFalse(invoice.dunning_level_id)
