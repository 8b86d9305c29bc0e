"""What a reminder states about the platform access is the decision taken for that
customer in that run (issue 17), never the level's name."""

from freezegun import freeze_time

from odoo.tests import Form, tagged
from odoo.tools import html2plaintext

from .common import AccessCommon


@tagged("post_install", "-at_install")
class TestAccessNoticeTruth(AccessCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ref = cls.env.ref
        cls._level(-2).mail_template_id = ref("dunning_ruler.mail_template_dunning_before_due")
        cls._level(3).mail_template_id = ref("dunning_ruler.mail_template_dunning_overdue")
        cls._level(10).mail_template_id = ref("dunning_ruler.mail_template_dunning_final")
        cls.level_restrict.mail_template_id = ref("dunning_ruler.mail_template_dunning_restriction")
        cls.level_block.mail_template_id = ref("dunning_ruler.mail_template_dunning_block")
        cls.vip = cls._create_customer("Customer Vip", grade=cls.grade_vip)
        cls.vip_binding = cls._bind(cls.vip, "601")

    @staticmethod
    def _prose(body):
        """The reminder's sentences, above its table of invoices (whose stage column
        names the levels reached)."""
        return body.split("\nInvoice\n")[0]

    def _sent(self, partner=None, after=None):
        events = self._events(partner, channel="email", state="done").filtered(lambda e: not e.merged_into_id)
        event = events - (after or events.browse())
        self.assertEqual(len(event), 1)
        return event, html2plaintext(event.message), event.mail_message_id.subject

    def test_block_downgraded_to_restriction_says_restricted(self):
        """First run on D+30: the block level, but no notice was sent 3 days before:
        the customer is only restricted, and the reminder says so."""
        self._invoice(self.customer, 100.0)
        self._run(self._day(30))
        event, body, subject = self._sent()
        self.assertEqual(event.level_id, self.level_block)
        self.assertEqual(self._events(channel="action").mapped("state"), ["skipped"])
        self.assertEqual(self.binding.desired_state, "restricted")
        self.assertEqual(event.access_notice, "restricted")
        self.assertIn("restricted until payment is received", body)
        self.assertNotIn("is blocked", body)
        self.assertNotIn("suspended", body + subject)
        # The block comes with the next decision, now that this notice was sent.
        self.assertIn("Without payment, it will be blocked on 04/18/2026", body)

    def test_exempt_vip_reads_nothing_about_restriction(self):
        """VIP (exempt, 5 grace days): the restriction level on D+20 restricts
        nothing, and neither the reminder nor its subject speaks of it."""
        self._invoice(self.vip, 100.0)
        self._run(self._day(20))
        event, body, subject = self._sent(self.vip)
        self.assertEqual(event.level_id, self.level_restrict)
        self.assertEqual(self.vip_binding.desired_state, "active")
        self.assertFalse(event.access_notice)
        self.assertEqual(event._get_notice_service_status()["code"], "none")
        for text in (self._prose(body), subject):
            self.assertNotIn("restrict", text.lower())
            self.assertNotIn("platform", text.lower())
        self.assertIn("payment overdue by 20 day(s)", subject)

    def test_blocked_customer_reads_blocked(self):
        self._invoice(self.customer, 100.0)
        self._run(self._day(15))  # restricted, and the notice a block needs is sent
        earlier = self._events()
        self._run(self._day(30))
        event, body, _subject = self._sent(after=earlier)
        self.assertEqual(event.access_notice, "blocked")
        self.assertIn("blocked until payment is received", body)
        self.assertEqual(self.binding.desired_state, "blocked")

    def test_overdue_reminder_announces_the_restriction_date(self):
        self._invoice(self.customer, 100.0)
        self._run(self._day(3))
        event, body, _subject = self._sent()
        self.assertEqual((event.access_notice, event.access_notice_date), ("will_restrict", self._day(15)))
        self.assertIn("will be restricted on 03/31/2026", body)
        self.assertEqual(self.binding.desired_state, "active")

    def test_friendly_promise_only_while_the_service_is_active(self):
        self._invoice(self.customer, 100.0)
        self._run(self._day(-2))
        _event, body, _subject = self._sent()
        self.assertIn("guaranteed for the next month", body)
        self.assertIn("will be restricted on 03/31/2026", body)
        # Restricted on D+15; a new invoice's friendly reminder on D+16 promises nothing.
        self._run(self._day(15))
        self.assertEqual(self.binding.desired_state, "restricted")
        self._invoice(self.customer, 30.0, due=self._day(18))
        earlier = self._events()
        self._run(self._day(16))
        event, body, _subject = self._sent(after=earlier)
        self.assertEqual(event.level_id, self._level(-2))
        self.assertNotIn("guaranteed", body)
        self.assertIn("restricted until payment is received", body)

    def test_manual_next_level_warns_about_guards_and_states_the_decision(self):
        # VIP at "Final" (D+15 with its grace days); the next level restricts, but the grade is exempt.
        self._invoice(self.vip, 100.0)
        self._run(self._day(15))
        earlier = self._events(self.vip)
        with freeze_time(self._day(16)):
            wizard = Form(
                self.env["dunning.manual.wizard"].with_context(default_partner_ids=self.vip.ids)
            ).save()
            warnings = html2plaintext(wizard.warnings)
            self.assertIn("“Restrict” will not restrict the platform access: Grade Vip is exempt", warnings)
            wizard.action_send()
        event, body, _subject = self._sent(self.vip, after=earlier)
        self.assertEqual(event.origin, "manual")
        self.assertNotIn("restrict", self._prose(body).lower())
        self.assertEqual(self.vip_binding.desired_state, "active")

    def test_manual_block_without_notice_warns_of_the_downgrade(self):
        self._invoice(self.customer, 100.0)
        self._run(self._day(15))  # restricted; its reminder is the first notice
        earlier = self._events()
        with freeze_time(self._day(16)):
            wizard = Form(
                self.env["dunning.manual.wizard"].with_context(default_partner_ids=self.customer.ids)
            ).save()
            warnings = html2plaintext(wizard.warnings)
            self.assertIn(
                "“Block” will not block the platform access: Not blocked: no dunning notice", warnings
            )
            wizard.action_send()
        event, body, _subject = self._sent(after=earlier)
        self.assertEqual(event.level_id, self.level_block)
        self.assertEqual(event.access_notice, "restricted")
        self.assertNotIn("is blocked", body)
        self.assertEqual(self.binding.desired_state, "restricted")

    def test_customer_without_platform_account_is_told_nothing(self):
        other = self._create_customer("Customer Offline")
        self._invoice(other, 100.0)
        self._run(self._day(15))
        event, body, _subject = self._sent(other)
        self.assertFalse(event.access_notice)
        self.assertNotIn("platform", body.lower())
        with freeze_time(self._day(16)):
            wizard = self.env["dunning.manual.wizard"].create({"partner_ids": other.ids})
            self.assertIn("no platform account", html2plaintext(wizard.warnings))
