from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import WORKING_HOURS, SmsDunningCommon

PLACEHOLDERS = [
    "dunning_sms_amount",
    "dunning_sms_due_date",
    "dunning_sms_invoices",
    "dunning_sms_company",
    "dunning_sms_pay_url",
]


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


@tagged("post_install", "-at_install")
class TestPlaceholdersOverRpc(SmsDunningCommon, HttpCase):
    """The SMS placeholders of contacts and invoices, read by real users over RPC."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = cls._create_user("sms_rpc_agent", "SMS agent", "dunning_ruler.group_dunning_agent")
        cls.agent.password = "sms_rpc_agent_pw"
        person = cls.env["res.partner"].create({"name": "Lisbon payer", "parent_id": cls.customer_pt.id})
        cls.portal = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": "Lisbon payer",
                    "login": "sms_rpc_portal",
                    "password": "sms_rpc_portal_pw",
                    "partner_id": person.id,
                    "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
                }
            )
        )

    def _read(self, model, record, context):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {
                "model": model,
                "method": "read",
                "args": [record.ids, PLACEHOLDERS],
                "kwargs": {"context": context},
            },
        )

    def test_a_foreign_event_in_the_context_shows_nothing(self):
        own_invoice = self._invoice(self.customer_pt, 100.0)
        self._invoice(self.customer_es, 4321.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        foreign = self._sms_events(self.customer_es)
        self.assertEqual(foreign.state, "done")
        self.assertIn("4,321.00", foreign.message, "the dispatcher itself still renders the totals")
        for login in ("sms_rpc_portal", "sms_rpc_agent"):
            self.authenticate(login, f"{login}_pw")
            for event_id in (foreign.id, self._sms_events(self.customer_pt).id):
                context = {"dunning_event_id": event_id, "dunning_sms_rendering": event_id}
                for model, record in (("res.partner", self.customer_pt), ("account.move", own_invoice)):
                    with self.subTest(user=login, model=model, event=event_id):
                        [values] = self._read(model, record, context)
                        self.assertEqual(
                            {fname: values[fname] for fname in PLACEHOLDERS},
                            dict.fromkeys(PLACEHOLDERS, False),
                        )
