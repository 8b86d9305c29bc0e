from datetime import timedelta

from odoo import Command
from odoo.tests import tagged

from .common import DunningTourCase


@tagged("post_install", "-at_install")
class TestWorkspaceTours(DunningTourCase):
    """The accountant's workspace tells the truth, in a real browser (real clock)."""

    def _dashboard_lines(self):
        action = self.env["dunning.preview"].action_open_dashboard()
        return self.env["dunning.preview.line"].search(action["domain"]), action

    def test_tour_dashboard_nothing_to_do(self):
        lines, action = self._dashboard_lines()
        self.assertTrue(lines, "something to do before the run")
        self.assertEqual(action["context"].get("search_default_group_by_level"), 1)
        self._run(self.today)
        lines, action = self._dashboard_lines()
        self.assertFalse(lines, "the run did today's work")
        self.assertNotIn("search_default_group_by_level", action["context"])
        self.start_tour("/odoo", "dunning_dashboard_empty_tour", login="accountman")

    def test_tour_menu_names_once(self):
        self.start_tour("/odoo", "dunning_menu_once_tour", login="accountman")

    def test_tour_preview_date_and_future(self):
        self.start_tour("/odoo", "dunning_preview_date_tour", login="accountman")
        self.assertFalse(self._events(self.tour_customer), "the tour runs nothing")

    def test_tour_run_status_refreshes_itself(self):
        admin = self.env.ref("base.user_admin")
        admin.group_ids = [Command.link(self.env.ref("dunning_ruler.group_dunning_supervisor").id)]
        self.start_tour("/odoo", "dunning_run_status_refresh_tour", login="admin")
        cron = self.env.ref("dunning_ruler.ir_cron_dunning_run")
        progress = self.env["ir.cron.progress"].search([("cron_id", "=", cron.id)], order="id desc", limit=1)
        self.assertEqual((progress.done, progress.remaining), (40, 0))

    def test_tour_manual_next_level_lists_invoices_and_warns(self):
        customer = self._create_customer("Tour Manual Customer")
        kept = self._invoice(customer, 300.0, due=self.today - timedelta(days=5))
        disputed = self._invoice(customer, 40.0, due=self.today - timedelta(days=5))
        disputed.action_dunning_dispute("Wrong quantity")
        self.start_tour(
            f"/odoo/action-base.action_partner_form/{customer.id}",
            "dunning_manual_next_level_tour",
            login="accountman",
        )
        sent = self._events(customer).filtered(lambda e: e.origin == "manual" and e.level_id)
        self.assertTrue(sent, "the tour sent the next level")
        self.assertEqual(sent.invoice_ids, kept, "what the wizard listed, without the invoice in dispute")
        self.assertFalse(
            self._events(customer).filtered(lambda e: e.level_id and disputed in e.invoice_ids),
            "no level reached the invoice in dispute",
        )
