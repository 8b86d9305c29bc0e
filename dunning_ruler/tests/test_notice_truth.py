"""Reminders state only what is true on the day they are sent (issue 17): the
situation of each invoice from its real due date, whatever the level's name, and the
friendly promise only where it holds."""

from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import Form, tagged
from odoo.tools import html2plaintext

from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestNoticeTruth(DunningCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._level(-2).mail_template_id = cls.env.ref("dunning_ruler.mail_template_dunning_before_due")
        cls._level(0).mail_template_id = cls.env.ref("dunning_ruler.mail_template_dunning_due_today")
        cls.vip = cls._create_customer("Customer Vip", grade=cls.grade_vip)

    @staticmethod
    def _status_cells(event):
        return [row["status"] for row in event._get_notice_rows()]

    def _sent(self, partner):
        event = self._events(partner, channel="email", state="done").filtered(lambda e: not e.merged_into_id)
        self.assertEqual(len(event), 1)
        return event, html2plaintext(event.message), event.mail_message_id.subject

    def test_due_today_template_for_an_overdue_invoice_words_truthfully(self):
        """VIP grace days: on D+4 the due-date level is the highest one due (the
        overdue level waits for D+8); its invoice is 4 days overdue."""
        invoice = self._invoice(self.vip, 100.0)
        self._run(self.DUE + timedelta(days=4))
        event, body, subject = self._sent(self.vip)
        self.assertEqual(event.level_id, self._level(0))
        self.assertEqual(invoice.dunning_level_id, self._level(0))
        self.assertIn("*The oldest invoice below is 4 day(s) overdue (due on 03/16/2026).*", body)
        self.assertIn("4 day(s) overdue", self._status_cells(event))
        self.assertNotIn("Payment is due", body)
        self.assertIn("payment overdue by 4 day(s)", subject)
        self.assertNotIn("today", subject)
        situation = event._get_notice_situation()
        self.assertEqual((situation["code"], situation["days"], situation["date"]), ("overdue", 4, self.DUE))

    def test_due_today_on_the_due_date(self):
        self._invoice(self.customer, 100.0)
        self._run(self.DUE)
        _event, body, subject = self._sent(self.customer)
        self.assertIn("*Payment is due today.*", body)
        self.assertIn("payment due today", subject)
        self.assertNotIn("overdue", subject)

    def test_friendly_reminder_before_the_due_date(self):
        self._invoice(self.customer, 100.0)
        self._run(self.DUE - timedelta(days=2))
        event, body, subject = self._sent(self.customer)
        self.assertEqual(subject, f"{self.company.name}: payment due on 03/16/2026, in 2 day(s)")
        self.assertIn("*Payment is due on 03/16/2026, in 2 day(s).*", body)
        # Nothing restricts the service here (no access addon decision): the brief's promise holds.
        self.assertEqual(event._get_notice_service_status()["code"], "none")
        self.assertIn("Your service stays active and guaranteed for the next month", body)

    def test_catch_up_never_says_due_soon_for_an_overdue_invoice(self):
        """A ruler whose first level comes before the due date and the next long
        after: a first run on D+3 sends the pre-due level, truthfully worded."""
        ruler = self._create_ruler("Sparse", [(-5, "Early"), (20, "Late")])
        ruler.level_ids.filtered(lambda lvl: lvl.offset_days == -5).mail_template_id = self.env.ref(
            "dunning_ruler.mail_template_dunning_before_due"
        )
        grade = self.env["dunning.grade"].create({"name": "Sparse", "code": "T-SP", "ruler_id": ruler.id})
        customer = self._create_customer("Customer Sparse", grade=grade)
        self._invoice(customer, 100.0)
        self._run(self.DUE + timedelta(days=3))
        _event, body, subject = self._sent(customer)
        self.assertIn("payment overdue by 3 day(s)", subject)
        self.assertIn("*The oldest invoice below is 3 day(s) overdue", body)
        self.assertNotIn("due on", subject)

    def test_high_risk_early_reminder_has_its_own_neutral_template(self):
        early = self.env.ref("dunning_ruler.dunning_level_high_risk_before_due").sudo()
        template = self.env.ref("dunning_ruler.mail_template_dunning_early")
        self.assertEqual(early.mail_template_id, template)
        self.assertNotIn("guaranteed", template.body_html)
        friendly = self.env.ref("dunning_ruler.dunning_level_standard_before_due").sudo()
        self.assertNotEqual(template, friendly.mail_template_id)
        # Rendered: the situation, no promise about the service.
        self._level(-2).mail_template_id = template
        self._invoice(self.customer, 100.0)
        self._run(self.DUE - timedelta(days=2))
        _event, body, _subject = self._sent(self.customer)
        self.assertIn("*Payment is due on 03/16/2026, in 2 day(s).*", body)
        self.assertNotIn("guaranteed", body)

    def test_texts_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("pt_BR")
        self.customer.lang = "pt_BR"
        self._invoice(self.customer, 100.0)
        self._run(self.DUE + timedelta(days=4))
        event = self._events(channel="email", state="done").filtered(lambda e: not e.merged_into_id)
        situation = event.with_context(lang="pt_BR")._get_notice_situation()
        self.assertEqual(situation["code"], "overdue")
        # In Portuguese, not the English source (which is never empty either).
        self.assertEqual(situation["text"], "pagamento vencido há 4 dia(s)")


@tagged("post_install", "-at_install")
class TestManualNextLevelWarnings(DunningCommon):
    def test_wizard_lists_the_invoices_and_warns_about_disputes(self):
        kept = self._invoice(self.customer, 100.0)
        disputed = self._invoice(self.customer, 40.0)
        disputed.action_dunning_dispute("Wrong quantity")
        with freeze_time(self.DUE + timedelta(days=4)):
            wizard = Form(
                self.env["dunning.manual.wizard"].with_context(default_partner_ids=self.customer.ids)
            ).save()
            summary = html2plaintext(wizard.summary)
            self.assertIn(kept.name, summary)
            self.assertIn("due on 03/16/2026", summary)
            self.assertIn("4 day(s) overdue", summary)
            self.assertNotIn(disputed.name, summary)
            warnings = html2plaintext(wizard.warnings)
            self.assertIn(f"{disputed.name} is in dispute: not included", warnings)
            # Sending includes exactly what the wizard listed.
            events = self.customer.action_dunning_send_next_level()
        self.assertEqual(events.invoice_ids, kept)

    def test_no_warning_when_nothing_changes_what_happens(self):
        self._invoice(self.customer, 100.0)
        with freeze_time(self.DUE + timedelta(days=4)):
            wizard = self.env["dunning.manual.wizard"].create({"partner_ids": self.customer.ids})
            self.assertFalse(wizard.warnings)
            self.assertIn("for 1 invoice(s)", html2plaintext(wizard.summary))
