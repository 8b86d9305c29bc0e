from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestAccessPortal(HttpCase):
    """The customer portal of dunning_ruler shows the platform access state once this
    module is installed (without dunning_ruler depending on it)."""

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
        self.assertIn('data-access-state="restricted"', page)
        self.assertIn("Tracking platform access:", page)
        self.assertIn("restored automatically as soon as the overdue invoices are paid", page)

    def test_portal_shows_active_access(self):
        page = self._page()
        self.assertIn('data-access-state="active"', page)
        self.assertNotIn("restored automatically", page)

    def test_portal_without_platform_account_shows_nothing(self):
        other = self.env["res.partner"].create({"name": "No Platform Co", "is_company": True})
        new_test_user(self.env, login="plain_portal", groups="base.group_portal", partner_id=other.id)
        self.assertFalse(other.access_state)
        page = self._page("plain_portal")
        self.assertIn("o_portal_dunning", page, "the account status page")
        self.assertNotIn("Tracking platform access", page)
        self.assertNotIn("data-access-state", page)
