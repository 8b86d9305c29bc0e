from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from ..tools.quiet_hours import next_window_opening
from ..tools.sms_segments import sms_segment_info
from .common import SmsDunningCommon


@tagged("post_install", "-at_install")
class TestSegments(TransactionCase):
    def test_gsm7_and_ucs2_lengths(self):
        self.assertEqual(sms_segment_info(""), ("gsm7", 0, 0))
        self.assertEqual(sms_segment_info("a" * 160), ("gsm7", 160, 1))
        self.assertEqual(sms_segment_info("a" * 161), ("gsm7", 161, 2))
        self.assertEqual(sms_segment_info("a" * 306), ("gsm7", 306, 2))
        self.assertEqual(sms_segment_info("a" * 307), ("gsm7", 307, 3))
        # Extension characters take two septets but keep GSM-7.
        self.assertEqual(sms_segment_info("€" * 80), ("gsm7", 160, 1))
        self.assertEqual(sms_segment_info("€" * 81), ("gsm7", 162, 2))
        # One character outside GSM-7 switches the whole text to UCS-2.
        self.assertEqual(sms_segment_info("ç" + "a" * 69), ("ucs2", 70, 1))
        self.assertEqual(sms_segment_info("ç" + "a" * 70), ("ucs2", 71, 2))
        self.assertEqual(sms_segment_info("ã" * 134), ("ucs2", 134, 2))
        self.assertEqual(sms_segment_info("ã" * 135), ("ucs2", 135, 3))
        self.assertEqual(sms_segment_info("🚚"), ("ucs2", 2, 1))

    def test_template_editor_shows_length_and_parts(self):
        template = self.env["sms.template"].new({"body": "Pay {{ object.dunning_sms_amount }} " + "x" * 140})
        self.assertEqual(
            (template.sms_encoding, template.sms_length, template.sms_segments), ("gsm7", 180, 2)
        )
        template.body = "Olá, pague já"
        self.assertEqual((template.sms_encoding, template.sms_length, template.sms_segments), ("ucs2", 13, 1))


@tagged("post_install", "-at_install")
class TestQuietHoursWindow(TransactionCase):
    def test_next_window_opening(self):
        monday = datetime(2026, 3, 16)
        # Inside: 10:00 in Lisbon (UTC+0 in March).
        self.assertIsNone(next_window_opening(monday.replace(hour=10), "Europe/Lisbon", 8, 20))
        # 21:30 in Lisbon: Tuesday 08:00.
        self.assertEqual(
            next_window_opening(monday.replace(hour=21, minute=30), "Europe/Lisbon", 8, 20),
            datetime(2026, 3, 17, 8),
        )
        # 06:00 in Sao Paulo (09:00 UTC): the same day at 08:00 local, 11:00 UTC.
        self.assertEqual(
            next_window_opening(monday.replace(hour=9), "America/Sao_Paulo", 8, 20), monday.replace(hour=11)
        )
        # Madrid is UTC+1: 19:30 UTC is 20:30 there, closed until Tuesday 07:00 UTC.
        self.assertEqual(
            next_window_opening(monday.replace(hour=19, minute=30), "Europe/Madrid", 8, 20),
            datetime(2026, 3, 17, 7),
        )
        # Saturday evening waits until Monday, unless Sundays are allowed.
        saturday_late = datetime(2026, 3, 14, 21)
        self.assertEqual(next_window_opening(saturday_late, "Europe/Lisbon", 8, 20), monday.replace(hour=8))
        self.assertEqual(
            next_window_opening(saturday_late, "Europe/Lisbon", 8, 20, allow_sunday=True),
            datetime(2026, 3, 15, 8),
        )
        # Half hours and DST: New York on the Monday after the switch is UTC-4.
        self.assertEqual(
            next_window_opening(monday.replace(hour=11), "America/New_York", 8.5, 20),
            monday.replace(hour=12, minute=30),
        )
        # Unknown zone: UTC.
        self.assertEqual(
            next_window_opening(monday.replace(hour=5), "Mars/Olympus", 8, 20), monday.replace(hour=8)
        )


@tagged("post_install", "-at_install")
class TestQuietHoursDunning(SmsDunningCommon):
    def _pending_cron_calls(self):
        cron = self.env.ref("dunning_ruler_sms.ir_cron_dunning_phone_pending")
        return self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)]).mapped("call_at")

    def test_sms_due_at_night_waits_for_the_window_and_is_sent_once(self):
        self._invoice(self.customer_pt, 100.0)
        with freeze_time("2026-03-16 21:30:00"):
            summary = self._run(self.DUE)
        event = self._sms_events(self.customer_pt)
        self.assertRecordValues(
            event,
            [{"state": "pending", "scheduled_at": datetime(2026, 3, 17, 8), "phone_number": "+351912345678"}],
        )
        self.assertEqual(summary["done"], 1, "only the email went out")
        self.assertFalse(self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_pt.id)]))
        self.assertIn(datetime(2026, 3, 17, 8), self._pending_cron_calls())
        Event = self.env["dunning.event"]
        with freeze_time("2026-03-17 07:59:00"):
            Event._cron_release_pending_phone_messages()
        self.assertEqual(event.state, "pending")
        with freeze_time("2026-03-17 08:01:00"):
            Event._cron_release_pending_phone_messages()
            Event._cron_release_pending_phone_messages()
            self._run(self.DUE)
        self.assertEqual(event.state, "done")
        self.assertTrue(event.sms_uuid)
        self.assertEqual(
            len(self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_pt.id)])), 1
        )
        self._flush_sms_queue()
        self.assertEqual(len(self.gateway_double.requests), 1)

    def test_no_sms_on_sunday_unless_allowed(self):
        self._invoice(self.customer_br, 100.0)
        with freeze_time("2026-03-15 14:00:00"):  # Sunday 11:00 in Sao Paulo
            self._run(self.DUE - timedelta(days=2))
        event = self._sms_events(self.customer_br)
        self.assertEqual(event.state, "pending")
        self.assertEqual(event.scheduled_at, datetime(2026, 3, 16, 11), "Monday 08:00 in Sao Paulo")

        self.company.dunning_sms_allow_sunday = True
        self._invoice(self.customer_es, 100.0)
        with freeze_time("2026-03-15 14:00:00"):
            self._run(self.DUE - timedelta(days=2))
        self.assertEqual(self._sms_events(self.customer_es).state, "done")

    def test_paid_or_held_before_the_window_opens_is_not_sent(self):
        invoice = self._invoice(self.customer_pt, 100.0)
        self._invoice(self.customer_es, 100.0)
        with freeze_time("2026-03-16 22:00:00"):
            self._run(self.DUE)
            self._pay(invoice)
            self.customer_es.dunning_hold_until = self.DUE + timedelta(days=10)
        with freeze_time("2026-03-17 09:00:00"):
            self.env["dunning.event"]._cron_release_pending_phone_messages()
        self.assertEqual(self._sms_events(self.customer_pt).state, "skipped")
        self.assertIn("Paid", self._sms_events(self.customer_pt).failure_reason)
        self.assertEqual(self._sms_events(self.customer_es).state, "skipped")
        self.assertFalse(
            self.env["sms.sms"]
            .sudo()
            .search([("partner_id", "in", (self.customer_pt | self.customer_es).ids)])
        )

    def test_window_setting_is_validated(self):
        with self.assertRaises(ValidationError):
            self.company.write({"dunning_sms_window_start": 21, "dunning_sms_window_end": 8})

    def test_out_of_range_or_fractional_hours_are_refused_when_saved(self):
        admin = self._create_user("sms_window_admin", "Settings admin", "base.group_system")
        invalid = [
            {"dunning_sms_window_start": 7.995},  # 07:59.7: made 07:60 and crashed the run
            {"dunning_sms_window_end": 19.999},
            {"dunning_sms_window_end": 20.001},
            {"dunning_sms_window_end": 25},
            {"dunning_sms_window_start": -1},
            {"dunning_sms_window_start": float("nan")},
            {"dunning_sms_window_end": float("inf")},
        ]
        for values in invalid:
            with self.subTest(values):
                with self.assertRaises(ValidationError), self.env.cr.savepoint():
                    self.company.with_user(admin).write(values)
                with self.assertRaises(ValidationError), self.env.cr.savepoint():
                    self.env["res.config.settings"].with_user(admin).create(values).execute()
        settings = self.env["res.config.settings"].with_user(admin)
        settings.create({"dunning_sms_window_start": 7.5, "dunning_sms_window_end": 20 + 20 / 60}).execute()
        self.assertEqual(
            (self.company.dunning_sms_window_start, self.company.dunning_sms_window_end), (7.5, 20 + 1 / 3)
        )
        settings.create({"dunning_sms_window_start": 0, "dunning_sms_window_end": 24}).execute()

    def test_a_fractional_hour_stored_before_validation_does_not_stop_the_run(self):
        self.env.cr.execute(
            "UPDATE res_company SET dunning_sms_window_start = 7.995, dunning_sms_window_end = 23.999"
            " WHERE id = %s",
            [self.company.id],
        )
        self.company.invalidate_recordset()
        self._invoice(self.customer_pt, 100.0)
        with freeze_time("2026-03-16 06:00:00"):  # 06:00 in Lisbon
            self._run(self.DUE)
        event = self._sms_events(self.customer_pt)
        self.assertRecordValues(event, [{"state": "pending", "scheduled_at": datetime(2026, 3, 16, 8)}])
        late = datetime(2026, 3, 16, 23, 59)
        self.assertIsNone(next_window_opening(late, "UTC", 7.995, 23.999), "23.999 is the end of the day")
