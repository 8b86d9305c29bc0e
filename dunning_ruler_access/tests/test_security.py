from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import AccessCommon

SECRETS = ("password", "token", "webhook_secret", "pull_token", "username")


@tagged("post_install", "-at_install")
class TestSecurity(AccessCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent, cls.supervisor = cls._create_dunning_users("dunning", admin=False)

    def test_secrets_hidden_from_non_admins(self):
        for user in (self.supervisor, self.agent):
            platform = self.platform.with_user(user)
            self.assertEqual(platform.name, "Traccar test")
            fields_seen = platform.fields_get()
            for name in SECRETS:
                self.assertNotIn(name, fields_seen)
                with self.assertRaises(AccessError):
                    platform.read([name])
        admin = self._create_user("sysadmin", "Sysadmin", "base.group_system")
        self.assertIn("token", self.platform.with_user(admin).fields_get())
        self.assertEqual(self.platform.with_user(admin).token, "test-token")

    def test_agent_reads_but_does_not_change(self):
        self.assertTrue(self.binding.with_user(self.agent).access_state)
        with self.assertRaises(AccessError):
            self.binding.with_user(self.agent).write({"external_ref": "1"})
        with self.assertRaises(AccessError):
            self.customer.with_user(self.agent).action_dunning_trust(self._day(1), "no")

    def test_supervisor_processes_without_secret_access(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self.env["dunning.access.platform"].with_user(self.supervisor).process_outbox()
        self.assertEqual(self.binding.access_state, "restricted")


@tagged("post_install", "-at_install")
class TestPullRoute(HttpCase):
    def test_pull_state(self):
        platform = self.env["dunning.access.platform"].create(
            {
                "name": "Pull",
                "kind": "webhook",
                "base_url": "http://127.0.0.1:1/hook",
                "pull_token": "pull-secret",
            }
        )
        partner = self.env["res.partner"].create({"name": "Pulled", "is_company": True})
        self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": platform.id, "external_ref": "A-1"}
        )
        url = "/dunning_access/v1/accounts/A-1"
        response = self.url_open(url, headers={"Authorization": "Bearer pull-secret"})
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual((data["account_ref"], data["access_state"]), ("A-1", "active"))
        self.assertEqual(self.url_open(url).status_code, 401)
        self.assertEqual(self.url_open(url, headers={"Authorization": "Bearer nope"}).status_code, 401)
        missing = self.url_open(
            "/dunning_access/v1/accounts/B-2", headers={"Authorization": "Bearer pull-secret"}
        )
        self.assertEqual(missing.status_code, 404)
