import threading
from typing import ClassVar

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..tools.platform_api import PlatformApi
from ..tools.traccar_api import TraccarApi
from ..tools.webhook_api import WebhookApi
from .common import WEBHOOK_SECRET, AccessCommon


class MemoryPlatformApiBase(PlatformApi):
    """A third kind of platform, known to no generic model: its accounts are a dict
    (a plan per account, "suspended" when blocked). No ``kind`` here: the test
    registers its subclass, the way an addon's file registers its adapter when
    imported."""

    snapshot_before_apply = True

    accounts: ClassVar[dict] = {}
    applied: ClassVar[list] = []
    lock = threading.Lock()

    @classmethod
    def _get_conf(cls, platform):
        return dict(super()._get_conf(platform), label=platform.name)

    @classmethod
    def _check_platform(cls, platform):
        if "forbidden" in platform.base_url:
            raise ValidationError("This memory platform refuses forbidden URLs.")  # pylint: disable=translation-required

    def read_account(self, ref):
        with self.lock:
            account = dict(self.accounts[ref])
        return {"ok": True, "account": account, "state": account["state"]}

    def merge_snapshot(self, snapshot, account, target):
        if target == "active" or snapshot:
            return snapshot
        return {"plan": account["plan"]}

    def apply_state(self, ref, target, snapshot=None, account=None, payload=None, msg_id=None):
        with self.lock:
            plan = (snapshot or {}).get("plan", self.accounts[ref]["plan"])
            self.accounts[ref].update(
                state=target,
                plan={"active": plan, "restricted": "read-only", "blocked": "suspended"}[target],
            )
            self.applied.append((ref, target, dict(snapshot or {}), payload["event"], msg_id))
        return {"ok": True, "status": 200, "response": f"{ref} is {target}"}

    def test_connection(self):
        return {"ok": True, "message": self.conf["label"]}

    def find_account(self, login):
        with self.lock:
            ref = next((ref for ref, acc in self.accounts.items() if acc.get("login") == login), None)
        return {"ok": True, "ref": ref, "name": login}


@tagged("post_install", "-at_install")
class TestPlatformApi(AccessCommon):
    def _platform_of_kind(self, kind, **vals):
        """A platform of a kind the ``kind`` selection does not list: an addon would add
        it with ``selection_add``; a test cannot, so the row gets it in SQL."""
        platform = self.env["dunning.access.platform"].create(
            {"name": f"{kind} platform", "kind": "webhook", "base_url": "http://127.0.0.1:9/x", **vals}
        )
        self.env.cr.execute("UPDATE dunning_access_platform SET kind = %s WHERE id = %s", [kind, platform.id])
        platform.invalidate_recordset(["kind"])
        return platform

    def test_each_kind_has_its_adapter(self):
        self.assertIs(self.platform._get_platform_api_class(), TraccarApi)
        hook = self.env["dunning.access.platform"].create(
            {"name": "Hook", "kind": "webhook", "base_url": f"{self.sim.url}/webhook"}
        )
        self.assertIs(hook._get_platform_api_class(), WebhookApi)
        for kind, _label in self.env["dunning.access.platform"]._fields["kind"].selection:
            self.assertTrue(PlatformApi.get_api_class(kind), f"no adapter for {kind}")
        api = self.platform._get_platform_api()
        self.assertIsInstance(api, TraccarApi)
        self.assertEqual(
            api.conf["restrict_flags"], ["limitCommands", "readonly", "deviceReadonly", "disableReports"]
        )
        self.assertEqual(api.conf["token"], "test-token")

    def test_new_kind_plugs_in(self):
        """A third platform is its adapter class: no generic model changes."""

        class MemoryPlatformApi(MemoryPlatformApiBase):
            kind = "memory_test"

        self.addCleanup(PlatformApi.unregister, "memory_test")
        self.addCleanup(MemoryPlatformApi.applied.clear)
        self.addCleanup(MemoryPlatformApi.accounts.clear)
        self.assertIs(PlatformApi.get_api_class("memory_test"), MemoryPlatformApi)
        MemoryPlatformApi.accounts.update(
            {
                f"m-{i}": {"state": "active", "plan": "gold", "login": f"fleet{i}@memory.test"}
                for i in range(3)
            }
        )
        platform = self._platform_of_kind("memory_test", max_concurrency=3)
        self.assertIs(platform._get_platform_api_class(), MemoryPlatformApi)
        bindings = self.env["dunning.access.binding"]
        for i in range(3):
            partner = self._create_customer(f"Memory Customer {i}")
            bindings |= self.env["dunning.access.binding"].create(
                {"partner_id": partner.id, "platform_id": platform.id, "external_ref": f"m-{i}"}
            )
            self._invoice(partner, 700.0)
        self._run(self._day(15))
        self.assertEqual(self._process()["sent"], 3, "sent in the thread pool, three at a time")
        self.assertEqual(set(bindings.mapped("access_state")), {"restricted"})
        self.assertEqual(bindings[0]._get_snapshot(), {"plan": "gold"}, "the adapter's snapshot is kept")
        self.assertEqual(MemoryPlatformApi.accounts["m-0"]["plan"], "read-only")
        calls = self._calls(bindings[0])
        self.assertEqual((calls.state, calls.response), ("done", "m-0 is restricted"))
        self.assertIn(
            ("m-0", "restricted", {"plan": "gold"}, "access.restrict", calls.idempotency_key),
            MemoryPlatformApi.applied,
        )

        partner = bindings[0].partner_id
        invoice = self.env["account.move"].search([("partner_id", "=", partner.id)])
        self._pay(invoice)
        self._process()
        self.assertEqual(bindings[0].access_state, "active")
        self.assertEqual(
            MemoryPlatformApi.accounts["m-0"],
            {"state": "active", "plan": "gold", "login": "fleet0@memory.test"},
        )
        self.assertEqual(MemoryPlatformApi.applied[-1][:3], ("m-0", "active", {"plan": "gold"}))
        self.assertFalse(bindings[0].snapshot)

        # The other operations go through it as well.
        action = platform.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(platform._find_account("fleet2@memory.test"), "m-2")
        with self.assertRaisesRegex(ValidationError, "refuses forbidden URLs"):
            platform.base_url = "http://forbidden.test/"

    def test_kind_without_adapter(self):
        platform = self._platform_of_kind("nowhere_test")
        with self.assertRaisesRegex(UserError, "No adapter"):
            platform.action_test_connection()

    def test_one_class_per_kind(self):
        with self.assertRaisesRegex(TypeError, "already served by TraccarApi"):

            class OtherTraccarApi(PlatformApi):
                kind = "traccar"

        self.assertIs(PlatformApi.get_api_class("traccar"), TraccarApi)

        class TraccarV7Api(TraccarApi):
            """Refining an adapter does not take its kind over (override
            _get_platform_api_class() for that)."""

        self.assertIs(PlatformApi.get_api_class("traccar"), TraccarApi)
        self.assertTrue(TraccarV7Api.snapshot_before_apply)

    # ---------------------------------------------------------------- Traccar
    def test_traccar_connection_and_lookup(self):
        action = self.platform.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.platform._find_account("driver@customer.test"), "502")
        self.assertEqual(self.platform._find_account("DRIVER@customer.test"), "502", "case-insensitive")
        self.assertFalse(self.platform._find_account("nobody@customer.test"))
        # A token Traccar made for its administrator, revoked: 401.
        self.platform.token = self.sim.issue_token(self.sim.admin["id"])
        self.sim.revoke_token(self.platform.token)
        with self.assertRaisesRegex(UserError, "Connection to Traccar test failed"):
            self.platform.action_test_connection()
        with self.assertRaisesRegex(UserError, "HTTP 401"):
            self.platform._find_account("driver@customer.test")

    def test_traccar_reads_account_state(self):
        api = self.platform._get_platform_api()
        read = api.read_account("501")
        self.assertTrue(read["ok"])
        self.assertEqual(read["state"], "active")
        self.assertEqual([user["id"] for user in read["account"]], [501, 502, 503], "with its sub-users")
        self._invoice(self.customer, 900.0)
        self._run(self._day(15))
        self._process()
        self.assertEqual(api.read_account("501")["state"], "restricted")
        self.assertEqual(api.read_account("999")["status"], 404)

    def test_traccar_settings_checked_by_its_adapter(self):
        with self.assertRaisesRegex(ValidationError, "Unknown Traccar flags: fly"):
            self.platform.restrict_flags = "readonly,fly"
        # The same field means nothing to a webhook platform.
        hook = self.env["dunning.access.platform"].create(
            {
                "name": "Hook",
                "kind": "webhook",
                "base_url": f"{self.sim.url}/webhook",
                "webhook_secret": WEBHOOK_SECRET,
                "restrict_flags": "fly",
            }
        )
        self.assertEqual(hook.action_test_connection()["params"]["type"], "success")
        with self.assertRaisesRegex(UserError, "do not support finding an account"):
            hook._find_account("someone@customer.test")
