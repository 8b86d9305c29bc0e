import socket

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import JsonRpcException, tagged

from odoo.addons.dunning_ruler.tests.common import DunningRpcCase

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
                gateway_fields = self.env["sms.http.gateway"].with_user(user).fields_get()
                for fname in ("auth_header_value", "webhook_secret", "url"):
                    self.assertNotIn(fname, gateway_fields, "credentials, and URLs that may carry a key")
        gateway = self.gateway.with_user(self.admin)
        self.assertEqual(gateway.auth_header_value, "Bearer s3cr3t")
        self.assertEqual(gateway.url, self.gateway_double.url)
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

    def _failure_texts(self, event):
        """Every text a failure of ``event``'s message left where users read it."""
        tracker = self.env["sms.tracker"].sudo().search([("sms_uuid", "=", event.sms_uuid)])
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "in", ("res.partner", "account.move")),
                    ("res_id", "in", [event.partner_id.id, *event.invoice_ids.ids]),
                ]
            )
        )
        event.invalidate_recordset()
        return [
            event.with_user(self.agent).delivery_failure or "",
            tracker.mail_notification_id.failure_reason or "",
            *messages.mapped(lambda m: str(m.body)),
            *messages.notification_ids.mapped(lambda n: n.failure_reason or ""),
        ]

    def test_credentials_never_reach_failure_texts(self):
        key, token = "K3y-0f-the-URL", "t0ken-0f-the-header"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.gateway.write(
            {
                "url": f"http://user:pa55word@127.0.0.1:{port}/v1/{key}/send?api_key={key}&x=1",
                "auth_header_value": f"Bearer {token}",
            }
        )
        self._invoice(self.customer_br, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(self.customer_br)
        with self.assertLogs("odoo.addons.dunning_ruler_sms.models.sms_http_gateway", "WARNING") as logs:
            self._flush_sms_queue()
        texts = [*self._failure_texts(event), *logs.output]
        self.assertIn("Connection failed", texts[0], "the reason is still told")
        for secret in (key, token, "pa55word"):
            self.assertFalse([text for text in texts if secret in text], secret)

        # A gateway answering with the credentials it was sent.
        self.gateway.url = f"{self.gateway_double.url}?api_key={key}"
        self.gateway_double.answer(401, {"error": f"bad token {token} for key {key} on {self.gateway.url}"})
        self._invoice(self.customer_es, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(self.customer_es)
        self._flush_sms_queue()
        texts = self._failure_texts(event)
        self.assertIn("HTTP 401", texts[0])
        for secret in (key, token):
            self.assertFalse([text for text in texts if secret in text], secret)


class RpcUsersCase(SmsDunningCommon, DunningRpcCase):
    """Real users calling the server over JSON-RPC: a portal user of the Lisbon
    customer, a dunning agent and a dunning supervisor (not administrators)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent, cls.supervisor = cls._create_dunning_users("sms_rpc", admin=False, password=True)
        cls.portal = cls._create_portal_user(cls.customer_pt, "Lisbon payer", "sms_rpc_portal")


@tagged("post_install", "-at_install")
class TestPlaceholdersOverRpc(RpcUsersCase):
    """The SMS placeholders of contacts and invoices, read by real users over RPC."""

    def _read(self, model, record, context):
        return self._call(model, "read", record.ids, PLACEHOLDERS, context=context)

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


@tagged("post_install", "-at_install")
class TestGatewayMethodsOverRpc(RpcUsersCase):
    """What the SMS addon runs with superuser rights (sending, delivery reports,
    releasing waiting messages) cannot be called over RPC, and the gateways and
    their credentials stay out of reach of portal users, agents and supervisors."""

    def test_sudo_work_and_gateways_are_out_of_reach(self):
        self._invoice(self.customer_pt, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(self.customer_pt)
        queued = self.env["sms.sms"].sudo().search([("dunning_event_id", "=", event.id)])
        self.assertEqual(queued.state, "outgoing")
        gateway, secret = self.gateway.id, self.gateway.webhook_secret
        messages = [{"content": "Pay now", "numbers": [{"number": "+34612345678", "uuid": "u1"}]}]
        calls = [
            ("sms.http.gateway", "read", [[gateway], ["url", "auth_header_value", "webhook_secret"]]),
            ("sms.http.gateway", "search_read", [[], ["name"]]),
            ("sms.http.gateway", "action_regenerate_webhook_secret", [[gateway]]),
            ("sms.http.gateway", "_send_messages", [[gateway], messages]),
            ("sms.http.gateway", "_process_status_report", [[gateway], {"data": {"status": "sent"}}]),
            ("sms.http.gateway", "_verify_webhook", [[gateway], "{}", {}]),
            ("sms.http.gateway", "_redact", [[gateway], "text"]),
            ("sms.http.gateway.receipt", "_record_receipt", [gateway, "msg_1"]),
            ("sms.http.gateway.receipt", "search_read", [[], ["webhook_id"]]),
            ("res.company", "read", [[self.company.id], ["sms_http_gateway_id", "whatsapp_http_gateway_id"]]),
            ("dunning.event", "_cron_release_pending_phone_messages", [[]]),
            ("dunning.event", "_dunning_send_sms", [event.ids]),
            ("dunning.event", "_dunning_phone_queue", [event.ids]),
            ("dunning.event", "_dunning_phone_render", [event.ids, self.tpl_due.id]),
            ("sms.sms", "send", [queued.ids]),
        ]
        for login in ("sms_rpc_portal", "sms_rpc_agent", "sms_rpc_supervisor"):
            self.authenticate(login, f"{login}_pw")
            for model, method, args in calls:
                with self.subTest(user=login, call=f"{model}.{method}"):
                    with self.assertRaises(JsonRpcException) as caught:
                        self._call(model, method, *args)
                    self.assertEqual(str(caught.exception), "odoo.exceptions.AccessError")
        self.assertEqual(self.gateway.webhook_secret, secret)
        self.assertFalse(self.env["sms.http.gateway.receipt"].search([]))
        self.assertFalse(self.gateway_double.requests, "nothing was sent")
