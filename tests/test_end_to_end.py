"""End to end across the three addons, on the default Standard ruler as installed:
email + SMS reminders, then restriction and block of the customer's account on a
Traccar platform, lifted with the original flags when the invoice is paid.

External systems are real HTTP servers on 127.0.0.1: the tracking simulator of
dunning_ruler_access and the SMS gateway double of dunning_ruler_sms. Every step
runs at a fixed date (run date and frozen clock), never today's.
"""

from datetime import date, datetime, time, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests.common import TransactionCase, tagged
from odoo.tools import html2plaintext

from odoo.addons.dunning_ruler_access.tests.simulator import TrackingSimulator
from odoo.addons.dunning_ruler_sms.tests.gateway_double import GatewayDouble

DUE = date(2026, 3, 16)  # a Monday: no step of the timeline falls on a Sunday (SMS window)
RESTRICT_FLAGS = ("limitCommands", "readonly", "deviceReadonly", "disableReports")


# Outside odoo.addons the tags are not set by default; pytest-odoo runs it after the install.
@tagged("post_install", "-at_install")
class TestEndToEnd(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=cls.company.ids))
        cls.ruler = cls.env.ref("dunning_ruler.dunning_ruler_standard")
        cls.level = {lvl.offset_days: lvl for lvl in cls.ruler.level_ids}

        cls.gateway_double = GatewayDouble().start()
        cls.addClassCleanup(cls.gateway_double.stop)
        cls.company.sms_http_gateway_id = cls.env["sms.http.gateway"].create(
            {
                "name": "E2E gateway",
                "company_id": cls.company.id,
                "url": cls.gateway_double.url,
                "auth_header_name": "Authorization",
                "auth_header_value": "Bearer e2e",
                "timeout": 5,
            }
        )

        cls.sim = TrackingSimulator("admin@platform.test", "admin-pass", token="e2e-token")
        cls.sim.start(0)
        cls.addClassCleanup(cls.sim.stop)
        # A manager account, read-only on purpose, with a driver sub-user.
        cls.sim.add_user("fleet@saopaulo.test", user_id=701, name="Fleet SP", readonly=True, userLimit=3)
        cls.sim.add_user("driver@saopaulo.test", user_id=702, name="Driver", deviceReadonly=True)
        cls.sim.link(701, 702)
        cls.original = {uid: dict(cls.sim.users[uid]) for uid in (701, 702)}
        cls.platform = cls.env["dunning.access.platform"].create(
            {
                "name": "Traccar E2E",
                "kind": "traccar",
                "base_url": cls.sim.url,
                "auth_type": "token",
                "token": "e2e-token",
                "company_id": cls.company.id,
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Transportes Sao Paulo E2E",
                "is_company": True,
                "email": "billing@saopaulo.test",
                "country_id": cls.env.ref("base.br").id,
                "phone": "(11) 91234-5678",
                "tz": "America/Sao_Paulo",
                "lang": "en_US",
            }
        )
        cls.binding = cls.env["dunning.access.binding"].create(
            {"partner_id": cls.customer.id, "platform_id": cls.platform.id, "external_ref": "701"}
        )

    def _at(self, offset):
        """The clock at 15:00 UTC (12:00 in Sao Paulo) on DUE + offset days."""
        return freeze_time(datetime.combine(DUE + timedelta(days=offset), time(15, 0)))

    def _step(self, offset):
        """One day of the scheduled actions: the dunning run, Odoo's SMS queue, the
        access outbox. Returns (the day's new events, the new SMS requests)."""
        day = DUE + timedelta(days=offset)
        before = self.env["dunning.event"].search([]).ids
        sms_before = len(self.gateway_double.requests)
        with self._at(offset):
            self.env["dunning.ruler"].run_dunning(as_of=day)
            self.env["sms.sms"].search([("state", "=", "outgoing")]).send(unlink_sent=True)
            self.env["dunning.access.platform"].process_outbox()
        events = self.env["dunning.event"].search(
            [("partner_id", "=", self.customer.id), ("id", "not in", before)], order="id"
        )
        return events, self.gateway_double.requests[sms_before:]

    def _assert_events(self, events, offset, channels):
        self.assertEqual(
            [(e.level_id, e.channel, e.state, e.date) for e in events],
            [(self.level[offset], ch, "done", DUE + timedelta(days=offset)) for ch in channels],
        )
        self.assertEqual(events.invoice_ids, self.invoice)

    def _assert_sms(self, requests, events):
        sms_event = events.filtered(lambda e: e.channel == "sms")
        self.assertEqual(len(requests), 1)
        payload = requests[0]["json"]
        self.assertEqual(payload["to"], "+5511912345678")
        self.assertEqual(sms_event.phone_number, "+5511912345678")
        self.assertEqual(payload["text"], html2plaintext(sms_event.message))
        self.assertIn("1,234.56", payload["text"])

    def _calls(self):
        return self.env["dunning.access.call"].search([("binding_id", "=", self.binding.id)], order="id")

    def _assert_rerun_creates_nothing(self, offset):
        calls, sms = self._calls(), len(self.gateway_double.requests)
        with self._at(offset):
            summary = self.env["dunning.ruler"].run_dunning(as_of=DUE + timedelta(days=offset))
        self.assertEqual(summary["events"], 0)
        self.assertEqual(self._calls(), calls)
        self.assertEqual(len(self.gateway_double.requests), sms)

    def test_timeline_email_sms_restrict_block_pay_unblock(self):
        self.assertEqual(
            [(lvl.offset_days, lvl._get_channels()) for lvl in self.ruler.level_ids.sorted("offset_days")],
            [
                (-2, ["email", "sms"]),
                (0, ["email", "sms"]),
                (3, ["email", "sms"]),
                (10, ["email", "sms", "activity"]),
                (15, ["email", "action"]),
                (30, ["email", "action"]),
            ],
            "the Standard ruler as the three addons install it",
        )
        self.invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": DUE - timedelta(days=30),
                "invoice_date_due": DUE,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "GPS tracking", "quantity": 1, "price_unit": 1234.56, "tax_ids": []}
                    )
                ],
            }
        )
        self.invoice.action_post()

        # Reminders: email and SMS, the platform untouched.
        for offset, channels in ((-2, ["email", "sms"]), (0, ["email", "sms"]), (3, ["email", "sms"])):
            events, requests = self._step(offset)
            self._assert_events(events, offset, channels)
            self._assert_sms(requests, events)
            self.assertTrue(events.filtered(lambda e: e.channel == "email").mail_message_id)
        self._assert_rerun_creates_nothing(3)
        events, requests = self._step(10)
        self._assert_events(events, 10, ["email", "sms", "activity"])
        self._assert_sms(requests, events)
        self.assertIn("FINAL NOTICE", requests[0]["json"]["text"])
        self.assertFalse(self._calls())
        self.assertEqual(self.sim.users[701], self.original[701])

        # D+15: restriction reaches the platform; nothing but the flags changes.
        events, requests = self._step(15)
        self._assert_events(events, 15, ["email", "action"])
        self.assertFalse(requests)
        self.assertRecordValues(
            self._calls(), [{"action": "restrict", "target_state": "restricted", "state": "done"}]
        )
        self.assertEqual(self._calls().event_id, events.filtered(lambda e: e.channel == "action"))
        self.assertEqual(self.binding.access_state, "restricted")
        for uid in (701, 702):
            expected = dict(self.original[uid], **dict.fromkeys(RESTRICT_FLAGS, True))
            self.assertEqual(self.sim.users[uid], expected)
        self._assert_rerun_creates_nothing(15)

        # D+30: block (disabled).
        events, requests = self._step(30)
        self._assert_events(events, 30, ["email", "action"])
        self.assertFalse(requests)
        self.assertRecordValues(
            self._calls(),
            [
                {"action": "restrict", "target_state": "restricted", "state": "done"},
                {"action": "block", "target_state": "blocked", "state": "done"},
            ],
        )
        self.assertEqual(self.binding.access_state, "blocked")
        for uid in (701, 702):
            self.assertTrue(self.sim.users[uid]["disabled"])
            self.assertTrue(all(self.sim.users[uid][flag] for flag in RESTRICT_FLAGS))
        self._assert_rerun_creates_nothing(30)

        # D+31: the payment queues the unblock at once; the outbox restores the
        # users exactly as they were (the manager stays read-only).
        with self._at(31):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=self.invoice.ids
            ).create({})._create_payments()
            self.assertEqual(self.invoice.payment_state, "paid")
            unblock = self._calls()[-1]
            self.assertRecordValues(
                unblock, [{"action": "unblock", "target_state": "active", "state": "pending"}]
            )
            self.assertEqual(self.env["dunning.access.platform"].process_outbox()["sent"], 1)
        self.assertEqual(unblock.state, "done")
        self.assertEqual(self.binding.access_state, "active")
        self.assertEqual(self.customer.access_state, "active")
        self.assertFalse(self.binding.snapshot)
        self.assertEqual({uid: self.sim.users[uid] for uid in (701, 702)}, self.original)
        self.assertEqual(len(self.gateway_double.requests), 4)
        self._assert_rerun_creates_nothing(31)
        self.assertEqual(len(self._calls()), 3)
