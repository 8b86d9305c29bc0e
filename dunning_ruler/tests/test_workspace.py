from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.dunning_engine import LOCK_NAMESPACE
from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningPreview(DunningCommon):
    def _preview(self, day, partners=None):
        preview = self.env["dunning.preview"].create(
            {"as_of": day, "partner_ids": [Command.set(partners.ids)] if partners else []}
        )
        preview._compute_lines()
        return preview

    def test_preview_has_no_side_effect_and_matches_the_run(self):
        other = self._create_customer("Customer Other")
        invoice = self._invoice(self.customer, 1000.0)
        self._invoice(other, 250.0)
        day = self.DUE + timedelta(days=3)
        counts = (
            self.env["dunning.event"].search_count([]),
            self.env["mail.message"].search_count([("model", "=", "res.partner")]),
        )
        preview = self._preview(day)
        self.assertEqual(
            counts,
            (
                self.env["dunning.event"].search_count([]),
                self.env["mail.message"].search_count([("model", "=", "res.partner")]),
            ),
        )
        self.assertFalse(invoice.dunning_level_id)
        lines = preview.line_ids.filtered(lambda line: line.partner_id == self.customer)
        self.assertEqual(lines.level_id.name, "Overdue")
        self.assertEqual(lines.channel, "email")
        self.assertEqual(lines.amount, 1000.0)
        self.assertEqual(lines.invoice_ids, invoice)
        self.assertEqual(lines.skipped_levels, "Before due, Due today")
        self.assertEqual(preview.partner_count, 2)

        # Run for the selection only: the other customer is left alone.
        preview.line_ids.filtered(lambda line: line.partner_id == other).selected = False
        preview.action_run_selection()
        done = self._events(state="done")
        self.assertEqual(done.level_id.mapped("name"), ["Overdue"])
        self.assertEqual(invoice.dunning_level_id.name, "Overdue")
        self.assertFalse(self._events(other))
        # The preview of the same day now only shows the other customer.
        self.assertEqual(self._preview(day).line_ids.partner_id, other)

    def test_preview_restricted_to_partners_and_refuses_future_runs(self):
        other = self._create_customer("Customer Other")
        self._invoice(self.customer, 1000.0)
        self._invoice(other, 250.0)
        with freeze_time(self.DUE):
            preview = self._preview(self.DUE + timedelta(days=12), partners=other)
            self.assertEqual(preview.line_ids.partner_id, other)
            self.assertEqual(preview.line_ids.level_id.name, "Final")
            with self.assertRaisesRegex(UserError, "future"):
                preview.action_run_selection()
        self.assertFalse(self._events(other))

    def test_dashboard_lists_today_needing_action(self):
        # Two channels on the level: still one card for the customer.
        self.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 0).send_letter = True
        self._invoice(self.customer, 1000.0)
        with freeze_time(self.DUE):
            action = self.env["dunning.preview"].action_open_dashboard()
        lines = self.env["dunning.preview.line"].search(action["domain"])
        self.assertEqual(lines.partner_id, self.customer)
        self.assertEqual(lines.level_id.name, "Due today")
        self.assertIn("kanban", action["view_mode"])


@tagged("post_install", "-at_install")
class TestDunningManualActions(DunningCommon):
    def _partner_messages(self, partner):
        return self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", partner.id)], order="id desc"
        )

    def test_send_next_level_now(self):
        invoice = self._invoice(self.customer, 1000.0)
        later = self._invoice(self.customer, 300.0, due=self.DUE + timedelta(days=20))
        with freeze_time(self.DUE + timedelta(days=1)):
            wizard = self.env["dunning.manual.wizard"].create(
                {"partner_ids": [Command.set(self.customer.ids)]}
            )
            self.assertIn("Before due", wizard.summary)
            wizard.action_send()
            first = self._events(origin="manual", state="done")
            self.assertEqual(first.level_id.name, "Before due")
            self.assertEqual(first.channel, "email")
            self.assertEqual(
                first.invoice_ids, invoice | later, "a reminder before due lists every open invoice"
            )
            self.assertIn("sent manually", self._partner_messages(self.customer)[:1].body)
            self.customer.action_dunning_send_next_level()
            second = self._events(origin="manual", state="done") - first
            self.assertEqual(second.level_id.name, "Due today")
            self.assertEqual(
                second.invoice_ids, invoice, "the invoice not due yet stays out of the due-date notice"
            )
            self.assertEqual(invoice.dunning_level_id.name, "Due today")
        # The scheduled run does not repeat what was sent by hand.
        self._run(self.DUE + timedelta(days=1))
        self.assertEqual(len(self._events(date=self.DUE + timedelta(days=1), state="done")), 2)

    def test_skip_level(self):
        invoice = self._invoice(self.customer, 1000.0)
        with freeze_time(self.DUE + timedelta(days=4)):
            self._run(self.DUE + timedelta(days=3))
            self.assertEqual(invoice.dunning_level_id.name, "Overdue")
            events = self.customer.action_dunning_skip_level()
        self.assertEqual(events.channel, "manual")
        self.assertEqual(events.origin, "manual")
        self.assertEqual(events.state, "skipped")
        self.assertEqual(events.level_id.name, "Final")
        self.assertEqual(invoice.dunning_level_id.name, "Final")
        self.assertIn("skipped manually", self._partner_messages(self.customer)[:1].body)
        # The skipped Final notice is never sent; the run goes on with the next one.
        self._run(self.DUE + timedelta(days=12))
        self.assertFalse(self._events(date=self.DUE + timedelta(days=12)))
        self._run(self.DUE + timedelta(days=15))
        self.assertEqual(self._events(date=self.DUE + timedelta(days=15)).level_id.name, "Restrict")

    def test_manual_action_never_races_a_run(self):
        self._invoice(self.customer, 1000.0)
        # A run in another connection holds the customer's lock.
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other_cr:
            other_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, self.customer.id))
            with freeze_time(self.DUE), self.assertRaisesRegex(UserError, "processing"):
                self.customer.action_dunning_send_next_level()
            other_cr.rollback()
        self.assertFalse(self._events())

    def test_nothing_to_send(self):
        with self.assertRaises(UserError):
            self.customer.action_dunning_send_next_level()

    def test_dispute_and_clear(self):
        invoice = self._invoice(self.customer, 1000.0)
        with self.assertRaisesRegex(UserError, "reason"):
            invoice.action_dunning_dispute("  ")
        self.env["dunning.dispute.wizard"].create(
            {"move_ids": [Command.set(invoice.ids)], "reason": "Wrong quantity"}
        ).action_apply()
        self.assertTrue(invoice.dunning_excluded)
        self.assertEqual(invoice.dunning_exclusion_reason, "Wrong quantity")
        event = self._events(channel="manual")
        self.assertEqual(event.origin, "manual")
        self.assertEqual(event.invoice_ids, invoice)
        self.assertIn("Wrong quantity", event.message)
        invoice_messages = self.env["mail.message"].search(
            [("model", "=", "account.move"), ("res_id", "=", invoice.id)]
        )
        self.assertTrue(any("in dispute" in (m.body or "") for m in invoice_messages))
        # Disputed: the run leaves it alone.
        self._run(self.DUE + timedelta(days=3))
        self.assertFalse(self._events(state="done", origin="run"))
        invoice.action_dunning_clear_dispute()
        self.assertFalse(invoice.dunning_excluded)
        self.assertFalse(invoice.dunning_exclusion_reason)
        self.assertEqual(len(self._events(channel="manual")), 2)
        self._run(self.DUE + timedelta(days=4))
        self.assertEqual(self._events(state="done", origin="run").level_id.name, "Overdue")

    def test_dispute_refuses_draft_and_non_agents(self):
        draft = self._invoice(self.customer, 100.0, post=False)
        with self.assertRaisesRegex(UserError, "posted customer invoices"):
            draft.action_dunning_dispute("reason")
        invoice = self._invoice(self.customer, 100.0)
        clerk = self._create_user("clerk_dunning", "Clerk", "account.group_account_invoice")
        with self.assertRaises(AccessError):
            invoice.with_user(clerk).action_dunning_dispute("reason")
        with self.assertRaises(AccessError):
            self.customer.with_user(clerk).action_dunning_send_next_level()
        self.assertFalse(invoice.dunning_excluded)

    def test_run_now_starts_the_cron_and_shows_progress(self):
        cron = self.env.ref("dunning_ruler.ir_cron_dunning_run")
        action = self.env["dunning.ruler"].action_run_now()
        self.assertEqual(action["res_model"], "dunning.run.status")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        status = self.env["dunning.run.status"].browse(action["res_id"])
        self.assertEqual(status.state, "queued")
        self.env["ir.cron.progress"].sudo().create({"cron_id": cron.id, "done": 30, "remaining": 10})
        status.invalidate_recordset()
        self.assertEqual((status.state, status.progress), ("running", 75.0))


@tagged("post_install", "-at_install")
class TestWorkspaceTruth(DunningCommon):
    def test_event_amounts_are_never_summed(self):
        """Events of one customer restate the same debt: no total over them."""
        self.assertIsNone(self.env["dunning.event"]._fields["amount_due"].aggregator)
        views = self.env["dunning.event"].get_views([(False, "list"), (False, "kanban"), (False, "pivot")])
        for view_type, view in views["views"].items():
            with self.subTest(view=view_type):
                self.assertNotRegex(view["arch"], r'name="amount_due"[^>]*\bsum=')
                self.assertNotIn('sum_field="amount_due"', view["arch"])
                self.assertNotRegex(view["arch"], r'name="amount_due"[^>]*type="measure"')
        self._invoice(self.customer, 100.0)
        self._run(self.DUE)
        self._run(self.DUE + timedelta(days=3))
        [group] = self.env["dunning.event"].formatted_read_group(
            [("partner_id", "=", self.customer.id)], ["partner_id"], ["__count"]
        )
        self.assertGreaterEqual(group["__count"], 2)
        # What the web client reads to total a grouped list: no aggregator offered.
        self.assertFalse(self.env["dunning.event"].fields_get(["amount_due"])["amount_due"].get("aggregator"))

    def test_menu_names_appear_once(self):
        """Each entry of the Dunning menu (and its Configuration) has its own name."""
        supervisor = self._create_user("menu_sup", "Menu Sup", "dunning_ruler.group_dunning_supervisor")
        supervisor.group_ids |= self.env.ref("account.group_account_manager")
        menus = self.env["ir.ui.menu"].with_user(supervisor).load_menus(debug=False)
        root = self.env.ref("dunning_ruler.menu_dunning_root").id
        names, todo = [], list(menus[root]["children"])
        while todo:
            menu = menus[todo.pop()]
            names.append(menu["name"])
            todo += menu["children"]
        self.assertIn("Non-payment Reasons", names)
        self.assertIn("Reasons Analysis", names)
        self.assertEqual(len(names), len(set(names)), names)
