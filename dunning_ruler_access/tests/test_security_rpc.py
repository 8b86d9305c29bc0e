"""Issue 15: what portal users, dunning agents, supervisors and system administrators
can do to the access platforms, over JSON-RPC as a browser does (call_kw) or through
the ORM as that user, and what the pull route and the failure texts give away."""

import hashlib
import json
import pathlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from freezegun import freeze_time

import odoo
from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import JsonRpcException, tagged
from odoo.tools import mute_logger

from odoo.addons.dunning_ruler.tests.common import DunningRpcCase

from .common import AccessCommon

KEY = "K3y-0f-the-URL"
TOKEN = "t0ken-0f-the-header"


class EchoServer:
    """Answers every request with ``status`` and a body quoting the request line and
    its headers, as a careless platform does."""

    def __init__(self, status=400):
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps(
                    {"error": f"refused {self.command} {self.path}", "headers": dict(self.headers.items())}
                ).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class AccessRpcCase(AccessCommon, DunningRpcCase):
    """Real users calling the server: a portal user of the test customer, a dunning
    agent, a dunning supervisor and a system administrator (also a dunning supervisor,
    as Odoo's administrator is)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent, cls.supervisor, cls.admin = cls._create_dunning_users("acc_rpc", password=True)
        cls.portal = cls._create_portal_user(cls.customer, "Fleet payer", "acc_rpc_portal")

    def _login(self, user):
        self.authenticate(user.login, f"{user.login}_pw")

    def assertRpcAccessError(self, model, method, *args, **kwargs):
        with self.assertRaises(JsonRpcException) as caught, mute_logger("odoo.http"):
            self._call(model, method, *args, **kwargs)
        self.assertEqual(str(caught.exception), "odoo.exceptions.AccessError")

    def _restricted(self):
        """The test customer restricted on the platform (level at D+15, outbox sent)."""
        invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(self.binding.access_state, "restricted")
        return invoice


@tagged("post_install", "-at_install")
class TestPlatformConnection(AccessRpcCase):
    def test_only_system_administrators_change_where_and_how_a_platform_connects(self):
        self._login(self.supervisor)
        platform = self.platform.id
        for values in (
            {"base_url": "http://attacker.example.com"},
            {"kind": "webhook"},
            {"auth_type": "basic"},
        ):
            with self.subTest(values=values):
                self.assertRpcAccessError("dunning.access.platform", "write", [platform], values)
        self.assertRpcAccessError(
            "dunning.access.platform",
            "create",
            {"name": "Mine", "kind": "webhook", "base_url": "http://attacker.example.com/hook"},
        )
        self.assertRpcAccessError("dunning.access.platform", "copy", [platform])
        # What a supervisor still tunes; a value unchanged is no change.
        self._call(
            "dunning.access.platform",
            "write",
            [platform],
            {"name": "Traccar prod", "dry_run": True, "timeout": 2.0, "base_url": self.sim.url},
        )
        self.assertEqual((self.platform.name, self.platform.dry_run), ("Traccar prod", True))
        self.assertEqual((self.platform.base_url, self.platform.kind), (self.sim.url, "traccar"))
        self.assertEqual(self.platform.auth_type, "token")

        self._login(self.admin)
        self._call("dunning.access.platform", "write", [platform], {"base_url": "https://gps.example.com"})
        self.assertEqual(self.platform.base_url, "https://gps.example.com")

    def test_credentials_are_read_by_system_administrators_only(self):
        fields = ["username", "password", "token", "webhook_secret", "pull_token", "pull_token_hash"]
        for user in (self.agent, self.supervisor):
            self._login(user)
            for fname in fields:
                with self.subTest(user=user.login, field=fname):
                    self.assertRpcAccessError("dunning.access.platform", "read", [self.platform.id], [fname])
        self._login(self.admin)
        [values] = self._call("dunning.access.platform", "read", [self.platform.id], ["token"])
        self.assertEqual(values["token"], "test-token")


@tagged("post_install", "-at_install")
class TestPrivilegedMethods(AccessRpcCase):
    def test_portal_users_and_agents_cannot_send_test_or_resync(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        pending = self._calls(state="pending")
        self.assertEqual(pending.action, "restrict")
        self.sim.requests.clear()
        calls = [
            ("dunning.access.platform", "process_outbox", []),
            ("dunning.access.platform", "action_test_connection", [[self.platform.id]]),
            ("dunning.access.platform", "action_generate_pull_token", [[self.platform.id]]),
            ("dunning.access.platform", "action_retry_attention", [[self.platform.id]]),
            ("dunning.access.binding", "action_resync", [[self.binding.id]]),
            ("dunning.access.call", "action_retry", [pending.ids]),
            ("dunning.access.call", "action_cancel", [pending.ids]),
        ]
        for user in (self.portal, self.agent):
            self._login(user)
            for model, method, args in calls:
                with self.subTest(user=user.login, call=f"{model}.{method}"):
                    self.assertRpcAccessError(model, method, *args)
        self.assertFalse(self.sim.requests, "nothing was sent to the platform")
        self.assertEqual(pending.state, "pending")
        self.assertFalse(self.platform.pull_token_hash)

    def test_supervisors_send_and_test_but_do_not_make_pull_tokens(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._login(self.supervisor)
        self.assertRpcAccessError("dunning.access.platform", "action_generate_pull_token", [self.platform.id])
        action = self._call("dunning.access.platform", "action_test_connection", [self.platform.id])
        self.assertEqual(action["params"]["type"], "success")
        summary = self._call("dunning.access.platform", "process_outbox")
        self.assertEqual(summary["sent"], 1)
        self.assertEqual(self.binding.access_state, "restricted")
        self._call("dunning.access.binding", "action_resync", [self.binding.id])

    def test_system_administrators_and_the_scheduled_action_send(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self.assertEqual(
            self.env["dunning.access.platform"].with_user(self.admin).process_outbox()["sent"], 1
        )
        self._pay(self.env["account.move"].search([("partner_id", "=", self.customer.id)]))
        self.cron_outbox.method_direct_trigger()
        self.assertEqual(self.binding.access_state, "active")


@tagged("post_install", "-at_install")
class TestTechnicalFields(AccessRpcCase):
    def test_outbox_and_platform_state_are_not_written_over_rpc(self):
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        call = self._calls(state="pending")
        self._login(self.supervisor)
        for model, record, values in (
            ("dunning.access.call", call, {"state": "done"}),
            ("dunning.access.call", call, {"payload": '{"account_ref": "1"}'}),
            ("dunning.access.binding", self.binding, {"snapshot": '{"501": {"readonly": false}}'}),
            ("dunning.access.binding", self.binding, {"confirmed_state": "blocked"}),
            ("dunning.access.binding", self.binding, {"desired_state": "active"}),
        ):
            with self.subTest(model=model, values=values):
                self.assertRpcAccessError(model, "write", record.ids, values)
        other = self.env["res.partner"].create({"name": "Other fleet", "is_company": True})
        self.assertRpcAccessError(
            "dunning.access.binding",
            "create",
            {"partner_id": other.id, "platform_id": self.platform.id, "external_ref": "900"},
            context={"default_confirmed_state": "restricted"},
        )
        # A new account as the form creates it, defaults included, is fine.
        [binding_id] = self._call(
            "dunning.access.binding",
            "create",
            [
                {
                    "partner_id": other.id,
                    "platform_id": self.platform.id,
                    "external_ref": "900",
                    "confirmed_state": "active",
                }
            ],
        )
        self._call("dunning.access.binding", "write", [binding_id], {"external_ref": "901"})
        self.assertEqual((call.state, self.binding.confirmed_state), ("pending", "active"))

        self._login(self.admin)
        self._call("dunning.access.call", "write", call.ids, {"state": "cancelled"})
        self.assertEqual(call.state, "cancelled")


@tagged("post_install", "-at_install")
class TestPullToken(AccessRpcCase):
    def test_pull_token_is_shown_once_and_stored_hashed(self):
        self._login(self.admin)
        action = self._call("dunning.access.platform", "action_generate_pull_token", [self.platform.id])
        token = action["params"]["message"].rsplit(" ", 1)[1]
        self.assertGreaterEqual(len(token), 40)
        self.platform.invalidate_recordset()
        self.assertEqual(self.platform.pull_token_hash, hashlib.sha256(token.encode()).hexdigest())
        [values] = self._call("dunning.access.platform", "read", [self.platform.id], ["pull_token"])
        self.assertFalse(values["pull_token"], "never readable again, not even by an administrator")
        self.env.cr.execute("SELECT * FROM dunning_access_platform WHERE id = %s", [self.platform.id])
        self.assertNotIn(token, [str(value) for value in self.env.cr.fetchone()])

        url = "/dunning_access/v1/accounts/501"
        self.assertEqual(self.url_open(url, headers={"Authorization": f"Bearer {token}"}).status_code, 200)
        hashed = self.platform.pull_token_hash
        self.assertEqual(self.url_open(url, headers={"Authorization": f"Bearer {hashed}"}).status_code, 401)

    def test_demo_token_only_in_demo_data(self):
        demo = self.env.ref("dunning_ruler_access.demo_platform_traccar", raise_if_not_found=False)
        known = (
            self.env["dunning.access.platform"]
            .with_context(active_test=False)
            .search([("pull_token_hash", "=", hashlib.sha256(b"demo-pull-token").hexdigest())])
        )
        self.assertEqual(known, demo or known.browse())
        # The only file naming the demo token is loaded as demo data, never as data.
        manifest = odoo.modules.module.get_manifest("dunning_ruler_access")
        addon_dir = odoo.modules.module.get_module_path("dunning_ruler_access")
        naming = {
            path
            for path in manifest["data"] + manifest["demo"]
            if "demo-pull-token" in pathlib.Path(addon_dir, path).read_text()
        }
        self.assertEqual(naming, {"demo/dunning_access_platform_demo.xml"})
        self.assertTrue(naming <= set(manifest["demo"]))

    def test_non_ascii_tokens_are_refused_not_crashed(self):
        self.platform.pull_token = "pull-secret"
        url = "/dunning_access/v1/accounts/501"
        self.assertEqual(self.url_open(url, headers={"Authorization": "Bearer pull-secret"}).status_code, 200)
        for header in ("Bearer pull-secrét", "Bearer \u00e9\u00e8", "Bearer pull-secret\u00a0".encode()):
            with self.subTest(header=header):
                response = self.url_open(url, headers={"Authorization": header})
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response.json()["error"], "invalid token")
        utf8 = "Bearer p\u00fcll-\u20ac".encode()
        self.assertEqual(self.url_open(url, headers={"Authorization": utf8}).status_code, 401)
        # A token in the query string is not read (it would end up in access logs).
        for query in ("?access_token=pull-secret", "?token=p%C3%BCll-%E2%82%AC", "?access_token=%FF"):
            with self.subTest(query=query):
                self.assertEqual(self.url_open(url + query).status_code, 401)

    def test_pull_answer_names_no_supervisor_and_no_note(self):
        self._restricted()
        self.platform.pull_token = "pull-secret"
        note = "Bank slip 4471 paid at the branch, confirmed by phone"
        with freeze_time(self._day(16)):
            wizard = (
                self.env["dunning.access.trust.wizard"]
                .with_user(self.supervisor)
                .create(
                    {"partner_ids": [Command.set(self.customer.ids)], "until": self._day(18), "note": note}
                )
            )
            wizard.action_confirm()
            self._process()
            self.assertEqual(self.binding.access_state, "trusted")
            self.env.flush_all()
        response = self.url_open(
            "/dunning_access/v1/accounts/501", headers={"Authorization": "Bearer pull-secret"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["access_state"], "trusted")
        for secret in (self.supervisor.name, note):
            self.assertNotIn(secret, response.text)
            self.assertNotIn(secret, self._calls(action="unblock").payload, "nor the platform's payload")
        chatter = self.customer.message_ids.mapped(lambda m: str(m.body))
        self.assertTrue([body for body in chatter if self.supervisor.name in body and note in body])


@tagged("post_install", "-at_install")
class TestFailureTexts(AccessRpcCase):
    def _texts(self, platform):
        calls = self.env["dunning.access.call"].search([("platform_id", "=", platform.id)])
        self.assertTrue(calls)
        messages = self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        calls = calls.with_user(self.agent)
        return [
            *calls.mapped("error"),
            *calls.mapped("response"),
            *calls.mapped("reason"),
            *messages.mapped(lambda m: str(m.body)),
        ]

    def _assert_clean(self, texts, secrets):
        texts = [text for text in texts if text]
        self.assertTrue(texts)
        for secret in secrets:
            self.assertFalse([text for text in texts if secret in text], secret)

    def test_no_url_key_nor_credential_in_failure_texts(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        hook = self.env["dunning.access.platform"].create(
            {
                "name": "Keyed hook",
                "kind": "webhook",
                "base_url": f"http://user:pa55word@127.0.0.1:{closed}/hooks/{KEY}?api_key={KEY}",
                "webhook_secret": "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItZHVubmluZw==",
                "timeout": 0.5,
            }
        )
        self.binding.platform_id = hook
        self.binding.external_ref = "H-1"
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(self._calls().state, "pending", "unreachable: retried later")
        self._assert_clean(self._texts(hook), (KEY, "pa55word"))

        echo = EchoServer(400)
        self.addCleanup(echo.stop)
        hook.write({"base_url": f"{echo.url}/hooks/{KEY}?api_key={KEY}"})
        self._make_due(self._calls())
        self._process()
        self.assertEqual(self._calls().state, "attention")
        self.assertIn("HTTP 400", self._calls().error)
        self._assert_clean(self._texts(hook), (KEY,))

    def test_no_credential_in_a_failed_connection_test(self):
        echo = EchoServer(400)
        self.addCleanup(echo.stop)
        self.platform.write({"base_url": f"{echo.url}/{KEY}", "token": TOKEN})
        with self.assertRaises(UserError) as caught:
            self.platform.with_user(self.supervisor).action_test_connection()
        self.assertIn("HTTP 400", str(caught.exception))
        for secret in (KEY, TOKEN):
            self.assertNotIn(secret, str(caught.exception))


@tagged("post_install", "-at_install")
class TestDisputeRule(AccessRpcCase):
    """Only supervisors grant a provisional unblock: an agent's dispute does not lift a
    restriction either, until a supervisor confirms it."""

    def test_agent_dispute_keeps_the_restriction_until_a_supervisor_confirms(self):
        invoice = self._restricted()
        self._login(self.agent)
        self._call("account.move", "action_dunning_dispute", invoice.ids, "Customer says it was paid")
        self.assertTrue(invoice.dunning_excluded, "the dispute itself is recorded")
        self.assertEqual(self.binding.desired_state, "restricted")
        self.assertRpcAccessError(
            "account.move", "write", invoice.ids, {"dunning_dispute_lifts_access": True}
        )
        self.assertRpcAccessError("account.move", "action_dunning_access_confirm_dispute", invoice.ids)
        # Nor by writing the dispute flag itself.
        self._call("account.move", "action_dunning_clear_dispute", invoice.ids)
        self._call("account.move", "write", invoice.ids, {"dunning_excluded": True})
        self.assertEqual(self.binding.desired_state, "restricted")

        self._login(self.supervisor)
        self._call("account.move", "action_dunning_access_confirm_dispute", invoice.ids)
        self.assertTrue(invoice.dunning_dispute_lifts_access)
        self.assertEqual(self.binding.desired_state, "active")
        self._process()
        self.assertEqual(self.binding.access_state, "active")

    def test_supervisor_dispute_lifts_at_once(self):
        invoice = self._restricted()
        invoice.with_user(self.supervisor).action_dunning_dispute("Wrong amount")
        self.assertEqual(self.binding.desired_state, "active")
        invoice.with_user(self.supervisor).action_dunning_clear_dispute()
        self.assertFalse(invoice.dunning_dispute_lifts_access)
        self.assertEqual(self.binding.desired_state, "restricted")

    def test_agent_cannot_grant_a_provisional_unblock(self):
        self._restricted()
        self._login(self.agent)
        self.assertRpcAccessError("res.partner", "action_dunning_trust", self.customer.ids, "2026-04-03", "x")
        with self.assertRaises(AccessError):
            self.env["dunning.access.trust.wizard"].with_user(self.agent).create(
                {"partner_ids": [Command.set(self.customer.ids)], "note": "x"}
            )
