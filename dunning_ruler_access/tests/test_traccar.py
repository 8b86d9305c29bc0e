"""Traccar as its source says it behaves (the simulator follows it, see
tests/simulator/server.py): authentication, statuses, a manager's reach, read-only
accounts, unknown properties, expiration, and linking customers to users."""

import base64
from datetime import timedelta

import requests

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..tools.traccar_api import SERVICE_ACCOUNT_ID, token_expiration
from .common import AccessCommon

RESTRICT_FLAGS = ("limitCommands", "readonly", "deviceReadonly", "disableReports")


@tagged("post_install", "-at_install")
class TestTraccar(AccessCommon):
    # ---------------------------------------------------------------- helpers
    def _add_user(self, user_id, email, password="pw", **values):
        values.setdefault("name", (email or "").split("@")[0])
        user = self.sim.add_user(email, password, user_id=user_id, **values)
        self.addCleanup(self.sim.users.pop, user_id, None)
        return user

    def _link(self, manager_id, user_id):
        self.sim.link(manager_id, user_id)
        self.addCleanup(self.sim.managed.discard, (manager_id, user_id))

    def _as_manager(self, links=(501,), **values):
        """The platform's connector becomes Traccar manager 700 (user and password),
        managing ``links`` directly."""
        self._add_user(700, "reseller@platform.test", "pw", userLimit=10, **values)
        for user_id in links:
            self._link(700, user_id)
        self.platform.sudo().write(
            {"auth_type": "basic", "username": "reseller@platform.test", "password": "pw"}
        )

    def _restrict(self):
        self.invoice = self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        return self._calls()

    def _corrupt(self, token, index, value):
        raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        raw[index] = value
        return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")

    def _get(self, path, **kwargs):
        return requests.get(f"{self.sim.url}{path}", timeout=5, **kwargs)

    # ---------------------------------------------------------------- the simulator is Traccar
    def test_simulator_authenticates_as_traccar(self):
        bearer = {"Authorization": "Bearer test-token"}
        # SessionResource: a header is not a session.
        self.assertEqual(self._get("/api/session", headers=bearer).status_code, 404)
        self.assertEqual(
            self._get("/api/session", auth=("admin@platform.test", "admin-pass")).status_code, 404
        )
        me = self._get("/api/session", params={"token": "test-token"}).json()
        self.assertEqual((me["id"], me["administrator"]), (SERVICE_ACCOUNT_ID, True), "the service account")
        # LoginService: email or login, case-insensitive; SecurityRequestFilter: 401.
        self.assertEqual(
            self._get("/api/users/501", auth=("ADMIN@platform.test", "admin-pass")).status_code, 200
        )
        self.assertEqual(self._get("/api/users/501", auth=("admin@platform.test", "no")).status_code, 401)
        # GET /api/server is @PermitAll: bad credentials still read it.
        self.assertEqual(self._get("/api/server", auth=("admin@platform.test", "no")).status_code, 200)
        # A cookie session.
        with requests.Session() as session:
            login = session.post(
                f"{self.sim.url}/api/session",
                data={"email": "admin@platform.test", "password": "admin-pass"},
                timeout=5,
            )
            self.assertEqual(login.status_code, 200)
            self.assertEqual(session.get(f"{self.sim.url}/api/users/502", timeout=5).status_code, 200)
        # Tokens (TokenManager): a user token, expired, revoked, malformed, corrupted.
        token = self.sim.issue_token(self.sim.admin["id"])
        self.assertEqual(
            self._get("/api/users/501", headers={"Authorization": f"Bearer {token}"}).status_code, 200
        )
        expiration = token_expiration(token)
        self.assertAlmostEqual(
            expiration.replace(tzinfo=None),
            fields.Datetime.now() + timedelta(days=7),
            delta=timedelta(minutes=1),
        )
        expired = self.sim.issue_token(self.sim.admin["id"], fields.Datetime.now() - timedelta(minutes=1))
        self.assertEqual(
            self._get("/api/users/501", headers={"Authorization": f"Bearer {expired}"}).status_code, 401
        )
        malformed = self._get("/api/users/501", headers={"Authorization": "Bearer wrong"})
        self.assertEqual(malformed.status_code, 400)
        self.assertIn("CryptoManager", malformed.text)
        corrupted = self._corrupt(token, 2, 0x31)  # the signature's DER header
        answer = self._get("/api/users/501", headers={"Authorization": f"Bearer {corrupted}"})
        self.assertEqual(answer.status_code, 500)
        self.assertIn("SignatureException", answer.text)
        # A disabled user, or one past its expirationTime, cannot log in.
        self._add_user(710, "gone@customer.test", "pw", disabled=True)
        past = fields.Datetime.now() - timedelta(days=1)
        self._add_user(711, "late@customer.test", "pw", expirationTime=past)
        self.assertEqual(self._get("/api/users/710", auth=("gone@customer.test", "pw")).status_code, 401)
        self.assertEqual(self._get("/api/users/711", auth=("late@customer.test", "pw")).status_code, 401)

    def test_simulator_rejects_unknown_properties(self):
        user = self._get("/api/users/502", headers={"Authorization": "Bearer test-token"}).json()
        self.assertIn("password", user, "Jackson writes the write-only password, as null")
        answer = requests.put(
            f"{self.sim.url}/api/users/502",
            json=dict(user, snapshot={"mine": True}),
            headers={"Authorization": "Bearer test-token"},
            timeout=5,
        )
        self.assertEqual(answer.status_code, 400)
        self.assertIn("UnrecognizedPropertyException", answer.text)
        self.assertEqual(self.sim.users[502], self.original[502])
        # The adapter sends back exactly the properties it read.
        api = self.platform._get_platform_api()
        read = api.read_account("501")
        result = api.apply_state("501", "restricted", {}, read["account"])
        self.assertTrue(result["ok"], result)
        for sent, user in zip(result["sent"], read["account"], strict=True):
            self.assertEqual(set(sent["user"]), set(user))

    # ---------------------------------------------------------------- test connection
    def test_connection_says_who_and_what_is_wrong(self):
        message = self.platform.action_test_connection()["params"]["message"]
        self.assertIn("service account", message)
        self.platform.sudo().write(
            {"auth_type": "basic", "username": "admin@platform.test", "password": "admin-pass"}
        )
        self.assertIn("administrator", self.platform.action_test_connection()["params"]["message"])
        self.platform.sudo().password = "nope"
        with self.assertRaisesRegex(UserError, "refused the credentials"):
            self.platform.action_test_connection()
        self._as_manager()
        message = self.platform.action_test_connection()["params"]["message"]
        self.assertIn("manager", message)
        self.assertIn("directly", message)
        self.sim.users[700]["userLimit"] = 0
        with self.assertRaisesRegex(UserError, "neither an administrator nor a manager"):
            self.platform.action_test_connection()
        self.sim.users[700].update(userLimit=10, readonly=True)
        with self.assertRaisesRegex(UserError, "read-only"):
            self.platform.action_test_connection()
        self.sim.users[700]["readonly"] = False
        self.sim.server_settings["readonly"] = True
        self.addCleanup(self.sim.server_settings.update, readonly=False)
        with self.assertRaisesRegex(UserError, "server is read-only"):
            self.platform.action_test_connection()
        self.sim.server_settings["readonly"] = False
        self.sim.users[700]["disabled"] = True
        with self.assertRaisesRegex(UserError, "HTTP 401"):
            self.platform.action_test_connection()

    def test_token_expiry_is_shown(self):
        self.assertFalse(self.platform.token_expiration, "a service-account token never expires")
        self.platform.sudo().token = self.sim.issue_token(self.sim.admin["id"])
        self.assertAlmostEqual(
            self.platform.token_expiration,
            fields.Datetime.now() + timedelta(days=7),
            delta=timedelta(minutes=1),
        )
        message = self.platform.action_test_connection()["params"]["message"]
        self.assertIn("This token expires on", message)
        self.assertIn("service-account token", message)

    # ---------------------------------------------------------------- statuses
    def test_statuses_are_classified_not_retried(self):
        api_of = self.platform._get_platform_api
        cases = {
            "wrong": (400, "not a Traccar token"),
            self._corrupt(self.sim.issue_token(self.sim.admin["id"]), 2, 0x31): (500, "corrupted"),
            self.sim.issue_token(self.sim.admin["id"], fields.Datetime.now() - timedelta(days=1)): (
                401,
                "expired",
            ),
        }
        for token, (status, words) in cases.items():
            self.platform.sudo().token = token
            read = api_of().read_account("501")
            self.assertEqual((read["ok"], read["status"], read["retry"]), (False, status, False), token)
            self.assertIn(words, read["error"])
        # Through the outbox: the corrupted token waits for a person, with the reason.
        call = self._restrict()
        self.assertEqual(self._process()["attention"], 1)
        self.assertEqual((call.state, call.http_status), ("attention", 401))
        self.platform.sudo().token = self._corrupt(self.sim.issue_token(self.sim.admin["id"]), 2, 0x31)
        call.action_retry()
        self._process()
        self.assertEqual((call.state, call.http_status), ("attention", 500))
        self.assertIn("corrupted", call.error)
        # An unknown user: 404 for an administrator, 400 "User access denied" for a manager.
        self.platform.sudo().token = "test-token"
        self.assertEqual(api_of().read_account("999")["status"], 404)
        self._as_manager()
        read = api_of().read_account("999")
        self.assertEqual((read["status"], read["retry"]), (400, False))
        self.assertIn("may not see or change user 999", read["error"])
        self.assertIn("User access denied", read["error"])

    # ---------------------------------------------------------------- a manager's reach
    def test_manager_changes_only_users_it_manages_directly(self):
        self._as_manager(links=(501,))
        call = self._restrict()
        self._process()
        self.assertEqual(call.state, "attention")
        self.assertIn("does not manage user(s) 502, 503 directly", call.error)
        self.assertFalse(self._puts(), "refused before any change: no half-restricted account")
        self._link(700, 502)
        self._link(700, 503)
        call.action_retry()
        self._process()
        self.assertEqual(call.state, "done")
        for uid in (501, 502, 503):
            self.assertTrue(self.sim.users[uid]["limitCommands"])

    def test_manager_cannot_restrict_itself(self):
        self._as_manager()
        partner = self._create_customer("Reseller Itself")
        binding = self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": self.platform.id, "external_ref": "700"}
        )
        result = self.platform._get_platform_api().apply_state("700", "restricted", {})
        self.assertFalse(result["ok"] or result["retry"])
        self.assertIn("own Traccar user", result["error"])
        self.assertFalse(self.sim.users[700]["limitCommands"])
        self.assertEqual(binding.account_check, "found", "a manager sees itself")

    def test_read_only_caller_gets_write_access_denied(self):
        self._as_manager(links=(501, 502, 503), readonly=True)
        call = self._restrict()
        self._process()
        self.assertEqual((call.state, call.http_status), ("attention", 400))
        self.assertIn("read-only", call.error)
        self.assertIn("Write access denied", call.error)
        self.assertEqual(self.sim.users[501], self.original[501])

    def test_sub_users_of_sub_users(self):
        # 502 manages 504 (a manager below the customer's manager).
        self.sim.users[502]["userLimit"] = 2
        self._add_user(504, "night@customer.test", name="Night shift")
        self._link(502, 504)
        self.assertEqual(
            [u["id"] for u in self.platform._get_platform_api().read_account("501")["account"]],
            [501, 502, 503, 504],
        )
        call = self._restrict()
        self._process()
        self.assertEqual(call.state, "done")
        self.assertTrue(self.sim.users[504]["limitCommands"])
        self._pay(self.invoice)
        self._process()
        self.assertFalse(self.sim.users[504]["limitCommands"])
        # A manager that does not manage 502 directly cannot even list 502's users.
        self._as_manager(links=(501,))
        read = self.platform._get_platform_api().read_account("501")
        self.assertFalse(read["ok"] or read["retry"])
        self.assertIn("manages users of its own", read["error"])
        # Managing every one of them directly, it can.
        for uid in (502, 503, 504):
            self._link(700, uid)
        self.assertEqual(len(self.platform._get_platform_api().read_account("501")["account"]), 4)

    # ---------------------------------------------------------------- semantics
    def test_expired_account_reads_as_blocked(self):
        past = fields.Datetime.now() - timedelta(days=2)
        self.sim.users[501]["expirationTime"] = past.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
        api = self.platform._get_platform_api()
        read = api.read_account("501")
        self.assertEqual(read["state"], "blocked")
        self.assertTrue(read["expired"])
        self.binding.action_check_account()
        self.assertEqual(self.binding.account_check, "found")
        self.assertIn("Expired", self.binding.account_check_message)
        # Restricting and unblocking keep its expiration (kept in the snapshot too).
        self._restrict()
        self._process()
        self.assertEqual(
            self.binding._get_snapshot()["501"]["expirationTime"], self.sim.users[501]["expirationTime"]
        )
        self._pay(self.invoice)
        self._process()
        self.assertEqual(
            self.sim.users[501],
            self.original[501] | {"expirationTime": self.sim.users[501]["expirationTime"]},
        )
        self.assertIn("expired", self._calls(action="unblock").response)

    def test_unblock_leaves_what_the_operator_changed(self):
        self._restrict()
        self._process()
        self._run(self._day(30))
        self._process()
        self.assertTrue(self.sim.users[501]["disabled"])
        # Meanwhile, in Traccar, an operator lets the manager (read-only before dunning)
        # edit again: that is the operator's decision, not the connector's to undo.
        self.sim.users[501]["readonly"] = False
        self._pay(self.invoice)
        self._process()
        self.assertEqual(self.binding.access_state, "active")
        self.assertFalse(self.sim.users[501]["readonly"], "left as the operator set it")
        self.assertFalse(self.sim.users[501]["limitCommands"], "what the connector set, restored")
        self.assertFalse(self.sim.users[501]["disabled"])
        self.assertEqual(self.sim.users[501]["userLimit"], 5)
        self.assertTrue(self.sim.users[503]["deviceReadonly"], "the garage's own flag, restored")
        self.assertEqual(self.sim.users[503], self.original[503])

    def test_operator_disable_during_restriction_is_kept(self):
        self._restrict()
        self._process()
        self.sim.users[502]["disabled"] = True  # not a restriction flag: the operator's
        self._pay(self.invoice)
        self._process()
        self.assertTrue(self.sim.users[502]["disabled"])
        self.assertFalse(self.sim.users[502]["limitCommands"])

    def test_block_flags_keep_alarms(self):
        self.platform.block_flags = ",".join(RESTRICT_FLAGS)
        self._restrict()
        self._process()
        self._run(self._day(30))
        self._process()
        self.assertEqual(self.binding.access_state, "blocked")
        self.assertFalse(self.sim.users[501]["disabled"], "not disabled: notifications and alarms go on")
        self.assertTrue(all(self.sim.users[501][flag] for flag in RESTRICT_FLAGS))
        with self.assertRaisesRegex(ValidationError, "must contain every restriction flag"):
            self.platform.block_flags = "disabled"
        with self.assertRaisesRegex(ValidationError, "Unknown Traccar flags: fly"):
            self.platform.block_flags = "limitCommands,readonly,deviceReadonly,disableReports,fly"

    # ---------------------------------------------------------------- linking customers
    def test_unknown_reference_flagged_at_once(self):
        partner = self._create_customer("Typo Fleet")
        binding = self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": self.platform.id, "external_ref": "888"}
        )
        self.assertEqual(binding.account_check, "missing")
        self.assertIn("888 does not exist", binding.account_check_message)
        self._add_user(888, "typo@customer.test", name="Typo Fleet")
        binding.external_ref = "888"
        binding.action_check_account()
        self.assertRecordValues(binding, [{"account_check": "found", "account_name": "Typo Fleet"}])
        self.sim.down = True
        binding.external_ref = "889"
        self.assertEqual(binding.account_check, "unchecked")
        self.assertIn("unreachable", binding.account_check_message)

    def test_find_on_platform(self):
        partner = self._create_customer("Lookup Fleet", email="Ops@Lookup.test")
        self._add_user(720, "ops@lookup.test", name="Lookup Fleet")
        binding = self.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": self.platform.id, "external_ref": "0"}
        )
        self.assertEqual(binding.account_check, "missing")
        binding.action_find_on_platform()
        self.assertRecordValues(binding, [{"external_ref": "720", "account_check": "found"}])
        # A login (not searched by Traccar's keyword) is found too.
        self._add_user(721, None, login="fleet-login", name="By login")
        self.assertEqual(self.platform._find_account("FLEET-LOGIN"), "721")
        partner.email = "nobody@lookup.test"
        with self.assertRaisesRegex(UserError, "No account"):
            binding.action_find_on_platform()
        action = partner.action_dunning_access_find()
        self.assertEqual(action["res_model"], "dunning.access.match.wizard")

    def test_match_wizard(self):
        self._add_user(730, "one@match.test", name="One")
        self._add_user(731, "twin@match.test", name="Twin")
        self._add_user(732, "linked@match.test", name="Linked")
        one = self._create_customer("Match One", email="ONE@match.test")
        twin_a = self._create_customer("Match Twin A", email="twin@match.test")
        twin_b = self._create_customer("Match Twin B", email="twin@match.test")
        missing = self._create_customer("Match Missing", email="nobody@match.test")
        no_email = self._create_customer("Match No Email", email=False)
        linked = self._create_customer("Match Linked", email="linked@match.test")
        self.env["dunning.access.binding"].create(
            {"partner_id": linked.id, "platform_id": self.platform.id, "external_ref": "732"}
        )
        partners = one | twin_a | twin_b | missing | no_email | linked
        wizard = self.env["dunning.access.match.wizard"].create(
            {"platform_id": self.platform.id, "partner_ids": [fields.Command.set(partners.ids)]}
        )
        requests_before = len(self.sim.requests)
        wizard.action_search()
        self.assertEqual(len(self.sim.requests) - requests_before, 1, "one request for every customer")
        states = {line.partner_id: (line.state, line.ref or False, line.to_link) for line in wizard.line_ids}
        self.assertEqual(
            states,
            {
                one: ("match", "730", True),
                twin_a: ("ambiguous", "731", False),
                twin_b: ("ambiguous", "731", False),
                missing: ("missing", False, False),
                no_email: ("no_email", False, False),
                linked: ("linked", "732", False),
            },
        )
        self.assertIn("1 to link, 2 ambiguous", wizard.summary)
        wizard.action_link()
        binding = self.env["dunning.access.binding"].search([("partner_id", "=", one.id)])
        self.assertRecordValues(
            binding, [{"external_ref": "730", "account_check": "found", "account_name": "One"}]
        )
        self.assertFalse(
            self.env["dunning.access.binding"].search([("partner_id", "in", (twin_a | twin_b).ids)])
        )
