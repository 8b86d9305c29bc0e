"""One definition of "dunnable" (issue 13) and the company scope of holds and
customer filters (issue 15): the manual step, the preview, the portal and the runs
act on the same installments, with the same ladders and grace days."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestOneDefinition(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agency = cls.env["res.partner"].create({"name": "Agency", "email": "files@agency.example.com"})

    def _open_invoices(self, partner):
        return self.env["account.move"].search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("payment_state", "in", ("not_paid", "partial")),
            ],
            order="invoice_date_due, id",
        )

    def _hand_over(self, invoice):
        # As a hand-over level does (only the engine creates hand-overs).
        handover = (
            self.env["dunning.handover"]
            .sudo()
            .create(
                {
                    "partner_id": invoice.commercial_partner_id.id,
                    "agency_id": self.agency.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                }
            )
        )
        invoice.sudo().dunning_handover_id = handover
        return handover

    def _arrange(self, invoice, start):
        plan = self.env["dunning.arrangement"].create(
            {
                "partner_id": invoice.commercial_partner_id.id,
                "date_start": start,
                "invoice_ids": [Command.set(invoice.ids)],
                "line_ids": [
                    Command.create({"date": start + timedelta(days=60), "amount": invoice.amount_total})
                ],
            }
        )
        plan.action_confirm()
        return plan

    def test_vip_next_level_leaves_out_the_invoice_within_grace_days(self):
        """The reported case: "send the next level now" proposed the block level for
        both invoices of a VIP customer (5 grace days), one of them 4 days late."""
        vip = self._create_customer("Customer VIP", grade=self.grade_vip)
        old = self._invoice(vip, 1000.0)
        recent = self._invoice(vip, 250.0, due=self.DUE + timedelta(days=26))
        self._run(self.DUE + timedelta(days=20))
        self._run(self.DUE + timedelta(days=26))
        self.assertEqual(old.dunning_level_id.name, "Restrict")
        self.assertEqual(recent.dunning_level_id.name, "Due today")
        today = self.DUE + timedelta(days=30)  # the recent invoice is 4 days late
        steps = self.env["res.partner"]._dunning_next_steps(vip, today)
        self.assertEqual(
            [(s.level_id, s.move_ids, s.line_ids) for s in steps],
            [(self._level(30).id, old.ids, self._payment_term_lines(old).ids)],
        )
        # Two days later, past its grace days, it could be brought forward too.
        later = self.env["res.partner"]._dunning_next_steps(vip, self.DUE + timedelta(days=32))
        self.assertEqual(
            [(s.level_id, set(s.move_ids)) for s in later], [(self._level(30).id, {old.id, recent.id})]
        )
        with freeze_time(today):
            wizard = self.env["dunning.manual.wizard"].create({"partner_ids": [Command.set(vip.ids)]})
            self.assertIn("Block", wizard.summary)
            self.assertIn("for 1 invoice(s)", wizard.summary)
            wizard.action_send()
        event = self._events(vip, origin="manual", state="done")
        self.assertEqual(event.level_id.name, "Block")
        self.assertEqual(event.invoice_ids, old)
        self.assertEqual(recent.dunning_level_id.name, "Due today", "within its grace days: left alone")

    def test_manual_step_preview_and_run_act_on_the_same_installments(self):
        """Holds, disputes, hand-overs, arrangements, grades without dunning and grace
        days: a manual step, the preview and the run leave the same installments alone."""
        normal = self._invoice(self.customer, 100.0)
        disputed = self._invoice(self.customer, 200.0)
        disputed.write({"dunning_excluded": True, "dunning_exclusion_reason": "Wrong quantity"})
        handed = self._invoice(self.customer, 300.0)
        self._hand_over(handed)
        arranged = self._invoice(self.customer, 400.0)
        self._arrange(arranged, self.DUE)
        held = self._create_customer("Customer Held")
        self._invoice(held, 100.0)
        held.action_dunning_hold(self.DUE + timedelta(days=30), "Pays at the end of the month")
        never = self._create_customer("Customer Never", grade=self.grade_none)
        self._invoice(never, 100.0)
        vip = self._create_customer("Customer VIP", grade=self.grade_vip)
        vip_invoice = self._invoice(vip, 100.0, due=self.DUE + timedelta(days=8))
        self._run(self.DUE + timedelta(days=8))
        self.assertEqual(normal.dunning_level_id.name, "Overdue")
        self.assertEqual(vip_invoice.dunning_level_id.name, "Due today")
        self.assertFalse((disputed | handed | arranged).dunning_level_id)

        today = self.DUE + timedelta(days=12)  # the VIP invoice is 4 days late: within its grace
        customers = self.customer | held | never | vip
        steps = self.env["res.partner"]._dunning_next_steps(customers, today)
        self.assertEqual(
            [(s.partner_id, s.level_id, s.line_ids) for s in steps],
            [(self.customer.id, self._level(10).id, self._payment_term_lines(normal).ids)],
        )
        with freeze_time(today):
            for partner in (held, never, vip):
                with self.assertRaisesRegex(UserError, "no next dunning level"):
                    partner.action_dunning_send_next_level()

        preview = self.env["dunning.preview"].create(
            {"as_of": today, "partner_ids": [Command.set(customers.ids)]}
        )
        preview._compute_lines()
        self.assertEqual(preview.line_ids.partner_id, self.customer)
        self.assertEqual(preview.line_ids.level_id, self._level(10))
        self.assertEqual(preview.line_ids.invoice_ids, normal)
        self.assertAlmostEqual(preview.line_ids.amount, 100.0)
        planned = self.env["dunning.engine"]._preview(today, partner_ids=customers.ids)
        self.assertEqual({lid for s in planned for lid in s.line_ids}, set(steps[0].line_ids))

        self._run(today)
        done = self.env["dunning.event"].search(
            [("partner_id", "in", customers.ids), ("date", "=", today), ("state", "=", "done")]
        )
        self.assertEqual(done.partner_id, self.customer)
        self.assertEqual(done.line_ids.ids, steps[0].line_ids)

    def test_portal_next_step_is_what_the_run_does(self):
        vip = self._create_customer("Customer VIP Portal", grade=self.grade_vip)
        current = self._invoice(vip, 100.0)
        arranged = self._invoice(vip, 300.0, due=self.DUE - timedelta(days=20))
        disputed = self._invoice(vip, 50.0, due=self.DUE - timedelta(days=40))
        disputed.write({"dunning_excluded": True, "dunning_exclusion_reason": "Not delivered"})
        self._arrange(arranged, self.DUE - timedelta(days=1))
        self._run(self.DUE)
        self.assertEqual(current.dunning_level_id.name, "Due today")
        moves = self._open_invoices(vip)
        today = self.DUE + timedelta(days=4)
        values = vip._dunning_portal_values(moves, today)
        # Overdue (D+3) plus the 5 grace days; the arranged and the disputed invoices,
        # though older, are not what the ladder follows.
        self.assertEqual(
            (values["next_level"], values["next_date"]), (self._level(3), self.DUE + timedelta(days=8))
        )
        self.assertFalse(values["hold_until"])
        self.assertEqual(values["overdue_invoices"], arranged | disputed | current)
        # A promise postpones it to the end of the hold.
        vip.action_dunning_hold(self.DUE + timedelta(days=10), "Promised")
        values = vip._dunning_portal_values(moves, today)
        self.assertEqual(
            (values["next_level"], values["next_date"]), (self._level(3), self.DUE + timedelta(days=10))
        )
        self.assertEqual(values["hold_until"], self.DUE + timedelta(days=10))
        # The runs do exactly that, on that date.
        for offset in range(4, 11):
            self._run(self.DUE + timedelta(days=offset))
        fired = self._events(vip, state="done").filtered(lambda e: e.origin == "run" and e.level_id)
        self.assertEqual(
            [(e.date, e.level_id, e.invoice_ids) for e in fired if e.date > self.DUE],
            [(self.DUE + timedelta(days=10), self._level(3), current)],
        )

    def test_manual_events_are_recorded_like_a_run_s(self):
        """Skip, hold, dispute: one helper records them; a step's amount is in the
        currency of its installments, like a run's event."""
        eur = self.setup_other_currency("EUR", rates=[("2026-01-01", 2.0)])
        invoice = self._invoice(self.customer, 500.0, currency=eur)
        with freeze_time(self.DUE + timedelta(days=4)):
            self._run(self.DUE + timedelta(days=3))
            skipped = self.customer.action_dunning_skip_level()
            self.customer.action_dunning_hold(self.DUE + timedelta(days=20), "Promised")
            invoice.action_dunning_dispute("Wrong quantity")
        self.assertEqual((skipped.state, skipped.origin, skipped.channel), ("skipped", "manual", "manual"))
        self.assertEqual((skipped.currency_id, skipped.amount_due), (eur, 500.0))
        run_event = self._events(state="done", origin="run")
        self.assertEqual((run_event.currency_id, run_event.amount_due), (eur, 500.0))
        hold, dispute = self._events(channel="manual", state="done")
        self.assertIn("on hold", hold.message)
        self.assertEqual(
            (hold.currency_id, hold.amount_due), (self.currency, 250.0), "overdue total in company"
        )
        self.assertEqual(
            (dispute.currency_id, dispute.amount_due, dispute.invoice_ids), (eur, 500.0, invoice)
        )
        self.assertEqual((hold | dispute).user_id, self.env.user)

    def test_letters_and_arrangements_take_the_dunnable_invoices(self):
        self._level(10).send_letter = True
        self.company.external_report_layout_id = self.env.ref("web.external_layout_standard")
        listed = self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        disputed = self._invoice(self.customer, 200.0, due=self.DUE + timedelta(days=1))
        disputed.action_dunning_dispute("Wrong address")
        handed = self._invoice(self.customer, 300.0, due=self.DUE + timedelta(days=2))
        self._hand_over(handed)
        self._run(self.DUE + timedelta(days=10))
        letter = self._events(channel="letter")
        lines = letter._get_letter_lines_map()[letter.id]
        self.assertEqual(lines.move_id, listed, "neither the disputed nor the handed-over invoice")
        plan = self.env["dunning.arrangement"].new(
            {"partner_id": self.customer.id, "date_start": self.DUE + timedelta(days=10)}
        )
        plan._onchange_partner_id()
        self.assertEqual(plan.invoice_ids._origin, listed)


@tagged("post_install", "-at_install")
class TestCompanyScope(DunningCommon):
    """Issue 15: a hold and a level's customer filter stay within their company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.setup_other_company()["company"]
        cls.other_ruler = cls._create_ruler("Other ruler", [(3, "Other overdue")], company=cls.other_company)
        cls.other_grade = cls.env["dunning.grade"].create(
            {
                "name": "Other",
                "code": "O-STD",
                "ruler_id": cls.other_ruler.id,
                "company_id": cls.other_company.id,
            }
        )
        cls.other_company.dunning_default_grade_id = cls.other_grade

    def test_hold_in_one_company_does_not_pause_another(self):
        ours = self._invoice(self.customer, 100.0)
        theirs = self._invoice(self.customer, 200.0, company=self.other_company)
        self.customer.action_dunning_hold(self.DUE + timedelta(days=20), "Pays us on the 5th")
        self.assertEqual(self.customer.dunning_hold_until, self.DUE + timedelta(days=20))
        self.assertEqual(self.customer.dunning_hold_note, "Pays us on the 5th")
        self.assertFalse(self.customer.with_company(self.other_company).dunning_hold_until)
        self.assertEqual(self._events(channel="manual").company_id, self.company)
        # The portal: the other company's reminder comes first, and no hold is announced.
        values = self.customer._dunning_portal_values(ours | theirs, self.DUE + timedelta(days=1))
        self.assertEqual(values["next_level"], self.other_ruler.level_ids)
        self.assertEqual(values["next_date"], self.DUE + timedelta(days=3))
        self.assertFalse(values["hold_until"])
        # The preview and the run: the other company duns, ours waits.
        steps = self.env["dunning.engine"]._preview(
            self.DUE + timedelta(days=3), (self.company | self.other_company).ids, self.customer.ids
        )
        self.assertEqual({s.company_id for s in steps}, {self.other_company.id})
        self._run(self.DUE + timedelta(days=3))
        events = self._events(state="done", origin="run")
        self.assertEqual(events.company_id, self.other_company)
        self.assertEqual(events.invoice_ids, theirs)
        self.assertFalse(ours.dunning_level_id)
        # A hold in the other company pauses it there only.
        self.customer.with_company(self.other_company).action_dunning_hold(self.DUE + timedelta(days=30))
        self.assertEqual(self.customer.dunning_hold_until, self.DUE + timedelta(days=20))
        self._run(self.DUE + timedelta(days=20))
        self.assertEqual(
            self._events(state="done", origin="run", date=self.DUE + timedelta(days=20)).invoice_ids, ours
        )

    def test_customer_filter_never_matches_through_another_company(self):
        level = self._level(3)
        level.condition_partner_domain = "[('invoice_ids.amount_total', '>', 5000)]"
        big_elsewhere = self._create_customer("Customer Big Elsewhere")
        self._invoice(big_elsewhere, 100.0)
        self._invoice(big_elsewhere, 9000.0, company=self.other_company, due=self.DUE + timedelta(days=60))
        big_here = self._create_customer("Customer Big Here")
        self._invoice(big_here, 9000.0)
        # As superuser across companies (how the filter used to run), both would match.
        everywhere = (
            self.env["res.partner"]
            .sudo()
            .search([("id", "in", (big_elsewhere | big_here).ids)] + level._get_condition_domain())
        )
        self.assertEqual(everywhere, big_elsewhere | big_here)
        self._run(self.DUE + timedelta(days=3))
        self.assertEqual(self._events(big_here, state="done").level_id, level)
        skipped = self._events(big_elsewhere, level_id=level.id)
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("customer filter", skipped.failure_reason)
        self.assertEqual(level.condition_user_id, self.env.user, "evaluated with its author's rights")

    def test_customer_filter_is_checked_and_run_with_its_author_rights(self):
        supervisor = self._create_user(
            "filter_sup", "Filter Supervisor", "dunning_ruler.group_dunning_supervisor"
        )
        level = self._level(10)
        # Mail servers are for administrators: a supervisor's filter cannot peek at them.
        with self.assertRaises(ValidationError):
            level.with_user(
                supervisor
            ).condition_partner_domain = "[('message_ids.mail_server_id.smtp_host', '=', 'smtp.example.com')]"
        level.with_user(supervisor).condition_partner_domain = "[('ref', '=', 'FLEET-LARGE')]"
        self.assertEqual(level.condition_user_id, supervisor)
        level.name = "Final notice"  # edited by someone else: the filter keeps its author
        self.assertEqual(level.condition_user_id, supervisor)
        partners = level._condition_partner_model()
        self.assertEqual(partners.env.user, supervisor)
        self.assertFalse(partners.env.su)
        self.assertEqual(partners.env.companies, self.company)
        level.condition_partner_domain = False
        self.assertFalse(level.condition_user_id)
