from odoo import Command
from odoo.tests import tagged

from .common import DunningTourCase


@tagged("post_install", "-at_install")
class TestDunningTours(DunningTourCase):
    """The accountant's workspace in a real browser. Dates are relative to today on
    purpose: the browser runs on the real clock; the outcome does not depend on it."""

    def test_tour_configure_ruler(self):
        self.start_tour(
            "/odoo/action-dunning_ruler.dunning_ruler_action",
            "dunning_ruler_configure_tour",
            login="accountman",
        )
        ruler = self.env["dunning.ruler"].search([("name", "=", "Tour ruler")])
        self.assertEqual(ruler.level_ids.mapped("name"), ["Tour letter level"])
        self.assertEqual(ruler.level_ids.offset_days, 5)
        self.assertTrue(ruler.level_ids.send_letter)
        self.assertIn("letter", ruler.level_ids._get_channels())

    def test_tour_preview_and_run(self):
        self.start_tour("/odoo", "dunning_preview_run_tour", login="accountman")
        events = self._events(self.tour_customer, state="done")
        self.assertEqual(events.level_id.name, "Overdue")
        self.assertEqual(events.date, self.today)
        self.assertEqual(self.tour_invoice.dunning_level_id.name, "Overdue")

    def test_tour_hold(self):
        self.start_tour(f"/odoo/res.partner/{self.tour_customer.id}", "dunning_hold_tour", login="accountman")
        self.assertEqual(str(self.tour_customer.dunning_hold_until), "2099-12-31")
        self.assertEqual(self.tour_customer.dunning_hold_note, "Promised by phone")
        self.assertEqual(self._events(self.tour_customer, channel="manual").origin, "manual")

    def test_tour_portal(self):
        self.env["res.users"].create(
            {
                "name": "Tour portal",
                "login": "dunning_portal",
                "password": "dunning_portal",
                "partner_id": self.tour_customer.id,
                "group_ids": [Command.set([self.env.ref("base.group_portal").id])],
            }
        )
        self.tour_invoice.message_subscribe(self.tour_customer.ids)
        self._run(self.today)
        self.assertEqual(self.tour_invoice.dunning_level_id.name, "Overdue")
        self.start_tour("/my/dunning", "dunning_portal_tour", login="dunning_portal")
