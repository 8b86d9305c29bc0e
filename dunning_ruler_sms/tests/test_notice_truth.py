"""A text message states what is true on the day it is sent (issue 17)."""

from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import html2plaintext

from .common import WORKING_HOURS, SmsDunningCommon


@tagged("post_install", "-at_install")
class TestSmsNoticeTruth(SmsDunningCommon):
    def test_due_today_text_for_an_overdue_invoice_says_overdue(self):
        """VIP grace days: on D+4 the due-date level is the highest one due; its text
        states the days overdue, not "due today"."""
        self.customer_es.dunning_grade_id = self.grade_vip
        self._invoice(self.customer_es, 100.0)
        with freeze_time(WORKING_HOURS + timedelta(days=4)):
            self._run(self.DUE + timedelta(days=4))
        event = self._sms_events(self.customer_es)
        self.assertEqual(event.level_id.offset_days, 0)
        text = html2plaintext(event.message)
        self.assertIn("is 4 day(s) overdue (03/16/2026)", text)
        self.assertNotIn("today", text)
        self.assertFalse(text.endswith(" "), "nothing to state about the service: no trailing space")

    def test_due_today_text_on_the_due_date(self):
        self._invoice(self.customer_es, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        text = html2plaintext(self._sms_events(self.customer_es).message)
        self.assertIn("is due today (03/16/2026). Already paid? Please ignore.", text)
        self.assertTrue(text.endswith("Please ignore."))
