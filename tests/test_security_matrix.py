"""The security table of README.md ("## Security"), checked: every row is run as every
role (public, portal, agent, supervisor, system administrator) the way that user reaches
it (an HTTP route, or JSON-RPC /web/dataset/call_kw as the web client), and what
happens must be what the cell says. A row without its check below, or a check without
its row, fails too: the README and the behaviour cannot drift apart.

``yes``: done; ``no``: refused (AccessError, session required, HTTP 401 or a
redirection to the login page). Any other error fails the test. Each cell runs in a
savepoint rolled back afterwards, from the same starting point: the test customer has
an invoice at the restricting level (D+15), its platform account is to be restricted
and the call waits for attention.
"""

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

from odoo import Command
from odoo.tests import JsonRpcException, tagged
from odoo.tools import mute_logger

from odoo.addons.dunning_ruler.tools import webhook
from odoo.addons.dunning_ruler_access.tests.test_security_rpc import AccessRpcCase

REPO_ROOT = Path(__file__).resolve().parent.parent
ROLES = {
    "public": None,
    "portal": "portal",
    "agent": "agent",
    "supervisor": "supervisor",
    "system administrator": "admin",
}
REFUSED_RPC = {"odoo.exceptions.AccessError", "odoo.http.SessionExpiredException"}
ROW = re.compile(r"^\|\s*`(?P<key>\w+)`\s*\|")


def read_security_table(path=REPO_ROOT / "README.md"):
    """{check: {role: "yes" | "no"}} from the table of the README's Security section."""
    text = path.read_text(encoding="utf-8")
    section = text.split("\n## Security\n", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        match = ROW.match(line)
        if not match:
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[match["key"]] = {role: cells[header.index(role)] for role in ROLES}
    return table


@tagged("post_install", "-at_install")
class TestSecurityMatrix(AccessRpcCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.invoice = cls._invoice(cls.customer, 900.0)
        cls.env["dunning.ruler"].run_dunning(as_of=cls.DUE + timedelta(days=15))
        cls.call = cls.env["dunning.access.call"].search([("binding_id", "=", cls.binding.id)])
        cls.call.sudo().write({"state": "attention", "error": "HTTP 401"})
        cls.platform.pull_token = "matrix-pull-token"
        cls.customer._dunning_statement_url()
        cls.statement_token = cls.customer.sudo().dunning_statement_token
        cls.gateway = (
            cls.env["sms.http.gateway"]
            .sudo()
            .create({"name": "Matrix gateway", "company_id": cls.company.id, "url": "http://127.0.0.1:9/sms"})
        )
        cls.arrangement = cls.env["dunning.arrangement"].create(
            {
                "partner_id": cls.customer.id,
                "date_start": cls.DUE + timedelta(days=16),
                "invoice_ids": [Command.set(cls.invoice.ids)],
                "line_ids": [Command.create({"date": cls.DUE + timedelta(days=40), "amount": 900.0})],
            }
        )

    # ------------------------------------------------------------------ helpers
    def _as(self, role):
        user = getattr(self, ROLES[role]) if ROLES[role] else None
        if user:
            self._login(user)
        else:
            self.authenticate(None, None)

    def _rpc(self, model, method, *args, **kwargs):
        """True when done, False when refused."""
        try:
            with mute_logger("odoo.http"):
                self._call(model, method, *args, **kwargs)
        except JsonRpcException as e:
            if str(e) in REFUSED_RPC:
                return False
            raise
        return True

    def _http(self, response):
        if response.status_code == 200:
            return True
        if response.status_code in (401, 403) or (
            response.status_code in (302, 303) and "/web/login" in response.headers.get("Location", "")
        ):
            return False
        raise AssertionError(f"{response.request.url}: HTTP {response.status_code} {response.text[:200]}")

    # ------------------------------------------------------------------ the rows
    def check_sms_webhook_unsigned(self):
        url = f"/dunning_ruler_sms/gateway/{self.gateway.id}/status"
        return self._http(self.url_open(url, data=b'{"data": {}}', headers={"webhook-id": "msg_1"}))

    def check_sms_webhook_signed(self):
        body = json.dumps({"data": {"id": "unknown", "status": "delivered"}}).encode()
        headers = webhook.signed_headers(self.gateway.sudo().webhook_secret, f"msg_{uuid.uuid4().hex}", body)
        url = f"/dunning_ruler_sms/gateway/{self.gateway.id}/status"
        return self._http(self.url_open(url, data=body, headers=headers))

    def check_pull_without_token(self):
        return self._http(self.url_open("/dunning_access/v1/accounts/501"))

    def check_pull_with_token(self):
        headers = {"Authorization": "Bearer matrix-pull-token"}
        return self._http(self.url_open("/dunning_access/v1/accounts/501", headers=headers))

    def check_portal_my_dunning(self):
        return self._http(self.url_open("/my/dunning", allow_redirects=False))

    def _statement(self, token):
        """The statement page answers 404 to a wrong or missing token, as to an unknown
        customer (refused without telling which)."""
        url = f"/my/dunning/{self.customer.id}?access_token={token}"
        response = self.url_open(url, allow_redirects=False)
        if response.status_code == 404:
            self.assertNotIn(self.invoice.name, response.text)
            return False
        return self._http(response)

    def check_statement_without_token(self):
        return self._statement("") or self._statement("not-the-token")

    def check_statement_with_token(self):
        return self._statement(self.statement_token)

    def check_rotate_statement_token(self):
        return self._rpc("res.partner", "action_dunning_rotate_statement_token", self.customer.ids)

    def check_process_outbox(self):
        return self._rpc("dunning.access.platform", "process_outbox")

    def check_generate_pull_token(self):
        return self._rpc("dunning.access.platform", "action_generate_pull_token", self.platform.ids)

    def check_test_connection(self):
        return self._rpc("dunning.access.platform", "action_test_connection", self.platform.ids)

    def check_binding_resync(self):
        return self._rpc("dunning.access.binding", "action_resync", self.binding.ids)

    def check_call_retry(self):
        return self._rpc("dunning.access.call", "action_retry", self.call.ids)

    def check_platform_url_write(self):
        return self._rpc(
            "dunning.access.platform", "write", self.platform.ids, {"base_url": "https://gps.example.com"}
        )

    def check_platform_create(self):
        values = {"name": "New", "kind": "webhook", "base_url": "https://hooks.example.com/dunning"}
        return self._rpc("dunning.access.platform", "create", values)

    def check_platform_credentials_read(self):
        return self._rpc("dunning.access.platform", "read", self.platform.ids, ["token"])

    def check_call_state_write(self):
        return self._rpc("dunning.access.call", "write", self.call.ids, {"state": "done", "payload": "{}"})

    def check_binding_state_write(self):
        values = {"snapshot": "{}", "confirmed_state": "restricted"}
        return self._rpc("dunning.access.binding", "write", self.binding.ids, values)

    def check_arrangement_state_write(self):
        return self._rpc("dunning.arrangement", "write", self.arrangement.ids, {"state": "active"})

    def check_sms_gateway_credentials_read(self):
        return self._rpc("sms.http.gateway", "read", self.gateway.ids, ["auth_header_value", "url"])

    def check_hold(self):
        until = self.DUE + timedelta(days=60)
        return self._rpc(
            "res.partner", "action_dunning_hold", self.customer.ids, str(until), "Pays on the 15th"
        )

    def check_dispute(self):
        return self._rpc("account.move", "action_dunning_dispute", self.invoice.ids, "Wrong amount")

    def check_dispute_lifts_restriction(self):
        self.assertEqual(self.binding.desired_state, "restricted")
        self._rpc("account.move", "action_dunning_dispute", self.invoice.ids, "Wrong amount")
        self.binding.invalidate_recordset()
        return self.binding.desired_state == "active"

    def check_confirm_dispute(self):
        self.invoice.with_user(self.agent).action_dunning_dispute("Says it was paid")
        return self._rpc("account.move", "action_dunning_access_confirm_dispute", self.invoice.ids)

    def check_trust(self):
        until = str(self.DUE + timedelta(days=20))
        return self._rpc("res.partner", "action_dunning_trust", self.customer.ids, until, "Bank slip paid")

    def check_next_level(self):
        return self._rpc("res.partner", "action_dunning_send_next_level", self.customer.ids)

    def check_run_dunning(self):
        return self._rpc("dunning.ruler", "run_dunning", as_of=str(self.DUE + timedelta(days=16)))

    # ------------------------------------------------------------------ the test
    def test_readme_security_table_is_what_happens(self):
        table = read_security_table()
        checks = {name[len("check_") :] for name in dir(self) if name.startswith("check_")}
        self.assertEqual(set(table) - checks, set(), "rows of the README without a check here")
        self.assertEqual(checks - set(table), set(), "checks here without a row in the README")
        mismatches = []
        for key, expected in table.items():
            for role, cell in expected.items():
                self.assertIn(cell, ("yes", "no"), f"{key} / {role}")
                savepoint = self.env.cr.savepoint()
                try:
                    self._as(role)
                    done = getattr(self, f"check_{key}")()
                finally:
                    savepoint.close(rollback=True)
                    self.env.invalidate_all()
                if ("yes" if done else "no") != cell:
                    mismatches.append(
                        f"{key} as {role}: README says {cell}, it was {'yes' if done else 'no'}"
                    )
        self.assertFalse(mismatches, "\n".join(mismatches))
