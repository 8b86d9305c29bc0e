from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestAccessPortal(HttpCase):
    """The customer portal of dunning_ruler and the statement page its reminders link
    to show the platform access state once this module is installed (through
    ``res.partner._dunning_portal_notices``: dunning_ruler does not depend on it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Fleet Portal Co", "is_company": True})
        cls.portal_user = new_test_user(
            cls.env, login="fleet_portal", groups="base.group_portal", partner_id=cls.customer.id
        )
        platform = cls.env["dunning.access.platform"].create(
            {"name": "Portal platform", "kind": "webhook", "base_url": "http://127.0.0.1:9", "dry_run": True}
        )
        cls.binding = cls.env["dunning.access.binding"].create(
            {"partner_id": cls.customer.id, "platform_id": platform.id, "external_ref": "fleet-1"}
        )

    def _page(self, login="fleet_portal"):
        self.authenticate(login, login)
        response = self.url_open("/my/dunning")
        self.assertEqual(response.status_code, 200)
        return response.text

    def test_portal_shows_restriction_and_what_happens(self):
        self.binding.write({"desired_state": "restricted", "confirmed_state": "restricted"})
        self.assertEqual(self.customer.access_state, "restricted")
        page = self._page()
        self.assertIn('data-notice="platform_access" data-notice-state="restricted"', page)
        self.assertIn("Tracking platform access:", page)
        self.assertIn(
            "Restricted. It is restored automatically as soon as the overdue invoices are paid", page
        )
        # The same on the statement page, without a login.
        self.logout()
        statement = self.url_open(self.customer._dunning_statement_url(absolute=False))
        self.assertEqual(statement.status_code, 200)
        self.assertIn('data-notice-state="restricted"', statement.text)
        self.assertIn("Restricted. It is restored automatically", statement.text)

    def test_portal_shows_active_access(self):
        page = self._page()
        self.assertIn('data-notice-state="active"', page)
        self.assertIn("Tracking platform access:</b>", page)
        self.assertNotIn("restored automatically", page)

    def test_portal_without_platform_account_shows_nothing(self):
        other = self.env["res.partner"].create({"name": "No Platform Co", "is_company": True})
        new_test_user(self.env, login="plain_portal", groups="base.group_portal", partner_id=other.id)
        self.assertFalse(other.access_state)
        page = self._page("plain_portal")
        self.assertIn("o_portal_dunning", page, "the account status page")
        self.assertNotIn("Tracking platform access", page)
        self.assertNotIn("data-notice", page)
        # Nor on its statement page (never an empty "Tracking platform access: .").
        self.logout()
        statement = self.url_open(other._dunning_statement_url(absolute=False)).text
        self.assertIn("o_portal_dunning", statement)
        self.assertNotIn("Tracking platform access", statement)
        self.assertNotIn("data-notice", statement)
