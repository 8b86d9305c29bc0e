from datetime import timedelta
from urllib.parse import urlsplit

from odoo import fields
from odoo.tests import common as odoo_common

from odoo.addons.dunning_ruler.tests.common import DunningCommon

from .simulator import TrackingSimulator

WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItZHVubmluZw=="


class AccessCommon(DunningCommon):
    """DunningCommon plus a tracking-platform simulator on a free 127.0.0.1 port, a
    Traccar platform pointing at it and the test customer linked to user 501, a
    manager (legitimately read-only) with two sub-users."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test harness raises short timeouts to 10s; the simulator is local and
        # the timeout tests need the platform's own, short one.
        if urlsplit(r.url).hostname == "127.0.0.1":
            return odoo_common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim = TrackingSimulator(
            "admin@platform.test", "admin-pass", token="test-token", webhook_secret=WEBHOOK_SECRET
        )
        cls.sim.start(0)
        cls.addClassCleanup(cls.sim.stop)
        cls.grade_vip.exempt_from_restriction = True
        cls.level_restrict = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 15)
        cls.level_block = cls.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 30)
        cls.level_restrict.action = "restrict"
        cls.level_block.action = "block"
        cls.ruler_strict.level_ids.filtered(lambda lvl: lvl.offset_days == 7).action = "restrict"
        cls.ruler_strict.level_ids.filtered(lambda lvl: lvl.offset_days == 15).action = "block"
        cls.platform = cls.env["dunning.access.platform"].create(
            {
                "name": "Traccar test",
                "kind": "traccar",
                "base_url": cls.sim.url,
                "auth_type": "token",
                "token": "test-token",
                "timeout": 0.5,
                "company_id": cls.company.id,
            }
        )
        cls.binding = cls._bind(cls.customer, "501", readonly=True, userLimit=5)
        cls.sub1 = cls.sim.add_user("driver@customer.test", user_id=502, name="Driver")
        cls.sub2 = cls.sim.add_user("garage@customer.test", user_id=503, name="Garage", deviceReadonly=True)
        cls.sim.link(501, 502)
        cls.sim.link(501, 503)
        cls.cron_outbox = cls.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox")

    def setUp(self):
        super().setUp()
        self.sim.reset_faults()
        self.sim.requests.clear()  # the class's set-up checked the accounts it linked
        self.original = {uid: dict(self.sim.users[uid]) for uid in (501, 502, 503)}
        self.addCleanup(self._restore_sim)

    def _restore_sim(self):
        # The platform outlives each test's rolled-back transaction: put it back.
        self.sim.reset_faults()
        for uid, user in self.original.items():
            self.sim.users[uid] = dict(user)
        self.sim.webhooks.clear()
        self.sim.requests.clear()

    @classmethod
    def _bind(cls, partner, ref, platform=None, **user_values):
        if int(ref) not in cls.sim.users:
            cls.sim.add_user(f"{ref}@customer.test", user_id=int(ref), name=partner.name, **user_values)
        return cls.env["dunning.access.binding"].create(
            {"partner_id": partner.id, "platform_id": (platform or cls.platform).id, "external_ref": ref}
        )

    def _process(self):
        return self.env["dunning.access.platform"].process_outbox()

    def _calls(self, binding=None, **filters):
        domain = [("binding_id", "=", (binding or self.binding).id)]
        domain += [(key, "=", value) for key, value in filters.items()]
        return self.env["dunning.access.call"].search(domain, order="id")

    def _make_due(self, calls):
        """Time passes: the retry delay of these calls has elapsed."""
        calls.sudo().write({"next_attempt": fields.Datetime.now() - timedelta(seconds=1)})

    def _puts(self):
        return [r for r in self.sim.requests if r[0] == "PUT"]

    def _day(self, offset):
        return self.DUE + timedelta(days=offset)
