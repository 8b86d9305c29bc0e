from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import html2plaintext

from odoo.addons.dunning_ruler.models.dunning_engine import DunningEngine

from ..tools.sms_segments import sms_normalize_text
from .common import WORKING_HOURS, SmsDunningCommon


@tagged("post_install", "-at_install")
class TestDunningSms(SmsDunningCommon):
    def test_numbers_of_each_country_and_failures_never_block_the_run(self):
        customers = {
            self.customer_br: "+5511912345678",
            self.customer_pt: "+351912345678",
            self.customer_es: "+34612345678",
            self.customer_us: "+16175550123",
        }
        for partner in [*customers, self.customer_invalid, self.customer_nonumber]:
            self._invoice(partner, 100.0)
        with freeze_time(WORKING_HOURS):
            summary = self._run(self.DUE)
        self.assertEqual(summary["failed"], 2)
        for partner, number in customers.items():
            event = self._sms_events(partner)
            self.assertRecordValues(
                event,
                [
                    {
                        "state": "done",
                        "phone_number": number,
                        "level_id": self.ruler.level_ids.filtered(lambda lvl: lvl.offset_days == 0).id,
                    }
                ],
            )
            sms = self.env["sms.sms"].sudo().search([("dunning_event_id", "=", event.id)])
            self.assertRecordValues(sms, [{"number": number, "state": "outgoing", "uuid": event.sms_uuid}])
            self.assertEqual(sms.partner_id, partner)
            self.assertEqual(sms.mail_message_id.record_company_id, self.company)
            self.assertEqual(sms._get_sms_company(), self.company)
            self.assertEqual(
                event.delivery_status, "ready", "the message's notification waits in Odoo's queue"
            )
            self.assertEqual(sms.sms_tracker_id.mail_notification_id.notification_type, "sms")
        invalid = self._sms_events(self.customer_invalid)
        self.assertEqual(invalid.state, "failed")
        self.assertEqual(invalid.phone_number_raw, "12345")
        self.assertIn("12345", invalid.failure_reason)
        missing = self._sms_events(self.customer_nonumber)
        self.assertEqual(missing.state, "failed")
        self.assertIn("no mobile or phone number", missing.failure_reason)
        # The other channels of the failed customers went on.
        self.assertEqual(self._sms_events(self.customer_invalid, channel="email").state, "done")
        self.assertFalse(
            self.env["sms.sms"]
            .sudo()
            .search([("partner_id", "in", (self.customer_invalid | self.customer_nonumber).ids)])
        )

        self._flush_sms_queue()
        self.assertEqual(
            sorted(r["json"]["to"] for r in self.gateway_double.requests), sorted(customers.values())
        )

    def test_invoicing_contact_first_then_customer_number(self):
        contact = self.env["res.partner"].create(
            {
                "name": "Accounts payable",
                "type": "invoice",
                "parent_id": self.customer_pt.id,
                "phone": "+351 961 111 222",
            }
        )
        self._invoice(self.customer_pt, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(self.customer_pt)
        self.assertEqual(event.phone_number, "+351961111222")
        self.assertEqual(
            self.env["sms.sms"].sudo().search([("dunning_event_id", "=", event.id)]).partner_id, contact
        )

        contact.phone = False
        self._invoice(self.customer_pt, 50.0, due=self.DUE + timedelta(days=1))
        with freeze_time(WORKING_HOURS + timedelta(days=1)):
            self._run(self.DUE + timedelta(days=1))
        later = self._sms_events(self.customer_pt) - event
        self.assertEqual(later.phone_number, "+351912345678", "falls back to the customer's number")

    def test_sms_states_exactly_the_emails_total_and_due_date(self):
        self._invoice(self.customer_es, 1000.0)
        self._invoice(self.customer_es, 234.56)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        sms_event = self._sms_events(self.customer_es)
        email_event = self._sms_events(self.customer_es, channel="email")
        self.assertEqual(len(sms_event.invoice_ids), 2)
        total = sms_event._get_notice_owed_display()
        self.assertIn("1,234.56", total)
        text = html2plaintext(sms_event.message)
        self.assertIn(sms_normalize_text(total), text)
        self.assertIn(sms_normalize_text(total), sms_normalize_text(html2plaintext(email_event.message)))
        self.assertIn("03/16/2026", text)
        self.assertEqual(sms_event.sms_encoding, "gsm7", "formatted amounts must not force UCS-2")
        self.assertEqual(sms_event.sms_segments, 1)
        sms = self.env["sms.sms"].sudo().search([("dunning_event_id", "=", sms_event.id)])
        self.assertEqual(sms.body, text)

    def test_one_sms_per_customer_and_run_of_the_highest_level(self):
        """Invoices at two levels in one run: one SMS, of the highest level, stating
        the total owed on every invoice; the lower level's event points at it."""
        older = self._invoice(self.customer_es, 1000.0)  # D+3: "Overdue"
        newer = self._invoice(self.customer_es, 100.0, due=self.DUE + timedelta(days=3))  # "Due today"
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE + timedelta(days=3))
        events = self._sms_events(self.customer_es)
        self.assertEqual(len(events), 2)
        sender = events.filtered(lambda e: not e.merged_into_id)
        merged = events - sender
        self.assertEqual(sender.level_id.offset_days, 3)
        self.assertEqual(merged.level_id.offset_days, 0)
        self.assertEqual((sender.invoice_ids, merged.invoice_ids), (older, newer))
        self.assertEqual(merged.merged_into_id, sender)
        self.assertEqual(merged.state, "done")
        self.assertFalse(merged.sms_uuid)
        sms = self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_es.id)])
        self.assertEqual(len(sms), 1)
        self.assertEqual(sms.uuid, sender.sms_uuid)
        self.assertIn(sms_normalize_text("$ 1,100.00"), sms.body)
        self.assertEqual(older.dunning_level_id.offset_days, 3)
        self.assertEqual(newer.dunning_level_id.offset_days, 0)
        # The email too: one message.
        self.assertEqual(len(self._sms_events(self.customer_es, channel="email").mail_message_id), 1)
        with freeze_time(WORKING_HOURS):
            self.assertEqual(self._run(self.DUE + timedelta(days=3))["events"], 0)
        self.assertEqual(
            len(self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_es.id)])), 1
        )

    def test_blacklisted_number_is_skipped(self):
        self.env["phone.blacklist"].sudo().add("+34612345678")
        self._invoice(self.customer_es, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(self.customer_es)
        self.assertEqual(event.state, "skipped")
        self.assertIn("blacklist", event.failure_reason)
        self.assertFalse(event.sms_uuid)

    def test_rerun_and_garbage_collection_never_send_twice(self):
        invoice = self._invoice(self.customer_br, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
            self._run(self.DUE)
            self._flush_sms_queue()
        self.assertEqual(len(self._sms_events(self.customer_br)), 1)
        self.assertEqual(len(self.gateway_double.requests), 1)
        event = self._sms_events(self.customer_br)
        self.assertEqual(event.delivery_status, "pending")
        # Odoo deletes sent sms.sms; the event keeps the reference and the status.
        self.env.flush_all()
        self.env["sms.sms"].sudo()._gc_device()
        self.assertFalse(self.env["sms.sms"].sudo().search([("uuid", "=", event.sms_uuid)]))
        event.invalidate_recordset()
        self.assertEqual(event.delivery_status, "pending")
        # Even if the installment's level is lost (manual reset), the same level is
        # not texted again for the same invoice.
        self.env.cr.execute(
            "UPDATE account_move_line SET dunning_level_id = NULL WHERE move_id = %s", [invoice.id]
        )
        self.env.invalidate_all()
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
            self._flush_sms_queue()
        events = self._sms_events(self.customer_br)
        self.assertEqual(events.mapped("state"), ["done", "skipped"])
        self.assertIn("Already sent", events[1].failure_reason)
        self.assertEqual(len(self.gateway_double.requests), 1)

    def test_crash_after_queueing_leaves_nothing_then_sends_once(self):
        self._invoice(self.customer_us, 100.0)
        original = DunningEngine._execute

        def execute_then_crash(engine, *args, **kwargs):
            original(engine, *args, **kwargs)
            raise RuntimeError("worker killed")

        with freeze_time(WORKING_HOURS):
            with (
                patch.object(DunningEngine, "_execute", execute_then_crash),
                self.assertRaises(RuntimeError),
                self.env.cr.savepoint(),
            ):
                self._run(self.DUE)
            self.env.invalidate_all()
            self.assertFalse(self._sms_events(self.customer_us))
            self.assertFalse(self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_us.id)]))
            self._run(self.DUE)
            self._flush_sms_queue()
        self.assertEqual(len(self._sms_events(self.customer_us)), 1)
        self.assertEqual(len(self.gateway_double.requests), 1)

    def test_resend_by_the_queue_carries_the_same_idempotency_key(self):
        """If the SMS cron dies after the gateway accepted a message, Odoo sends it
        again: the gateway can drop it thanks to the stable Idempotency-Key."""
        self._invoice(self.customer_pt, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        sms = self.env["sms.sms"].sudo().search([("partner_id", "=", self.customer_pt.id)])
        sms.send(unlink_sent=False)
        sms.state = "outgoing"
        sms.send(unlink_sent=False)
        keys = [r["headers"]["Idempotency-Key"] for r in self.gateway_double.requests]
        self.assertEqual(keys, [sms.uuid, sms.uuid])

    def test_default_rulers_text_before_due_on_due_date_and_overdue(self):
        for xmlid in (
            "dunning_level_standard_before_due",
            "dunning_level_standard_due_today",
            "dunning_level_standard_overdue",
            "dunning_level_standard_final",
            "dunning_level_high_risk_before_due",
            "dunning_level_high_risk_due_today",
            "dunning_level_high_risk_overdue",
            "dunning_level_high_risk_final",
        ):
            level = self.env.ref(f"dunning_ruler.{xmlid}").sudo()
            self.assertTrue(level.send_sms and level.sms_template_id, xmlid)
            self.assertIn("sms", level._get_channels())
            body = level.sms_template_id.body
            self.assertIn("dunning_sms_amount", body)
            self.assertIn("dunning_sms_due_date", body)
        self.assertNotIn(
            "sms", self.env.ref("dunning_ruler.dunning_level_standard_block").sudo()._get_channels()
        )

    def test_phone_channel_problems_reported_with_the_others(self):
        level = self.ruler.level_ids[:1]
        with self.assertRaises(ValidationError) as caught:
            level.write(
                {"send_sms": True, "sms_template_id": False, "send_whatsapp": True, "offset_days": 999}
            )
        message = str(caught.exception)
        self.assertIn("sends SMS: choose its template", message)
        self.assertIn("sends WhatsApp: choose its template", message)
        self.assertIn("must be between -90 and 365", message)

    def test_broken_template_fails_its_events_only(self):
        broken = self.env["sms.template"].create(
            {
                "name": "Broken",
                "model_id": self.env.ref("base.model_res_partner").id,
                "body": "{{ object.dunning_sms_amount.nope() }}",
            }
        )
        self.ruler_strict.level_ids.filtered(lambda lvl: lvl.offset_days == 0).sms_template_id = broken
        risky = self._create_customer("Risky Fleet", grade=self.grade_risk, phone="+34 622 000 111")
        self._invoice(risky, 100.0)
        self._invoice(self.customer_es, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(risky)
        self.assertEqual(event.state, "failed")
        self.assertIn("Broken", event.failure_reason)
        self.assertEqual(self._sms_events(self.customer_es).state, "done")
