from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SmsDunningCommon


@tagged("post_install", "-at_install")
class TestGatewayAccess(SmsDunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Users = cls.env["res.users"].with_context(no_reset_password=True)
        base = {"company_id": cls.company.id, "company_ids": [Command.set(cls.company.ids)]}
        cls.supervisor = Users.create(
            {
                **base,
                "name": "Dunning boss",
                "login": "dunning_boss",
                "group_ids": [
                    Command.set(
                        (
                            cls.env.ref("dunning_ruler.group_dunning_supervisor")
                            | cls.env.ref("account.group_account_manager")
                        ).ids
                    )
                ],
            }
        )
        cls.agent = Users.create(
            {
                **base,
                "name": "Dunning agent",
                "login": "dunning_agent",
                "group_ids": [Command.set(cls.env.ref("dunning_ruler.group_dunning_agent").ids)],
            }
        )
        cls.admin = Users.create(
            {
                **base,
                "name": "Sys admin",
                "login": "sys_admin",
                "group_ids": [Command.set(cls.env.ref("base.group_system").ids)],
            }
        )

    def test_only_system_administrators_see_gateway_credentials(self):
        for user in (self.supervisor, self.agent):
            with self.subTest(user=user.name):
                with self.assertRaises(AccessError):
                    self.gateway.with_user(user).read(["name"])
                with self.assertRaises(AccessError):
                    self.company.with_user(user).read(["sms_http_gateway_id"])
                settings_fields = self.env["res.config.settings"].with_user(user).fields_get()
                self.assertNotIn("sms_http_gateway_id", settings_fields)
                self.assertNotIn(
                    "auth_header_value", self.env["sms.http.gateway"].with_user(user).fields_get()
                )
        gateway = self.gateway.with_user(self.admin)
        self.assertEqual(gateway.auth_header_value, "Bearer s3cr3t")
        self.assertTrue(gateway.webhook_secret.startswith("whsec_"))
        gateway.auth_header_value = "Bearer rotated"
        settings = self.env["res.config.settings"].with_user(self.admin).create({})
        self.assertEqual(settings.sms_http_gateway_id, self.gateway)

    def test_gateways_are_per_company(self):
        other = self.env["res.company"].create({"name": "Other fleet company"})
        foreign = (
            self.env["sms.http.gateway"]
            .sudo()
            .create({"name": "Foreign", "url": "https://other.example.com", "company_id": other.id})
        )
        self.assertNotIn(foreign, self.env["sms.http.gateway"].with_user(self.admin).search([]))

    def test_agents_see_why_an_sms_failed(self):
        self._invoice(self.customer_invalid, 100.0)
        self.env["dunning.ruler"].with_user(self.agent).run_dunning(as_of=self.DUE)
        event = self._sms_events(self.customer_invalid).with_user(self.agent)
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.phone_number_raw, "12345")
        self.assertTrue(event.failure_reason)
        event.read(["delivery_status", "delivery_failure", "phone_number"])
