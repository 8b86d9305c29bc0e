import html
import re
import socket

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import WORKING_HOURS, SmsDunningCommon


@tagged("post_install", "-at_install")
class TestHttpGateway(SmsDunningCommon):
    def _queue_sms(self, partner):
        self._invoice(partner, 100.0)
        with freeze_time(WORKING_HOURS):
            self._run(self.DUE)
        event = self._sms_events(partner)
        return event, self.env["sms.sms"].sudo().search([("dunning_event_id", "=", event.id)])

    def _notification(self, event):
        return self.env["sms.tracker"].sudo().search([("sms_uuid", "=", event.sms_uuid)]).mail_notification_id

    def test_company_provider_seam(self):
        self.assertEqual(self.company._get_sms_api_class().__name__, "SmsApiHttpGateway")
        self.company.sudo().sms_http_gateway_id = False
        self.assertEqual(self.company._get_sms_api_class().__name__, "SmsApi", "back to Odoo's provider")

    def test_request_and_success(self):
        event, sms = self._queue_sms(self.customer_br)
        self.gateway_double.answer(201, {"id": "msg-771", "status": "queued"})
        self._flush_sms_queue()
        [request] = self.gateway_double.requests
        self.assertEqual(request["path"], "/v1/messages")
        self.assertEqual(request["headers"]["Authorization"], "Bearer s3cr3t")
        self.assertEqual(request["headers"]["Idempotency-Key"], event.sms_uuid)
        self.assertEqual(request["headers"]["Content-Type"], "application/json")
        self.assertEqual(
            request["json"],
            {
                "to": "+5511912345678",
                "text": sms.body,
                "channel": "sms",
                "reference": event.sms_uuid,
                "status_url": self.gateway.webhook_url,
            },
        )
        self.assertIn("100.00 is due today (03/16/2026)", sms.body)
        self.assertRecordValues(sms, [{"state": "pending", "to_delete": True}])
        tracker = sms.sms_tracker_id
        self.assertEqual(tracker.http_gateway_id, self.gateway)
        self.assertEqual(tracker.http_gateway_message_id, "msg-771")
        self.assertEqual(self._notification(event).notification_status, "pending")
        self.assertEqual(event.delivery_status, "pending")

    def test_error_answers(self):
        cases = [
            ((500, {"error": "boom"}), "sms_server"),
            ((503, "maintenance"), "sms_server"),
            ((401, {"error": "bad token"}), "sms_acc"),
            ((400, {"error": "invalid destination"}), "unknown"),
        ]
        for (status, body), failure_type in cases:
            with self.subTest(status=status):
                partner = self._create_customer(
                    f"Error {status}", country_id=self.env.ref("base.es").id, phone="+34 611 000 000"
                )
                event, sms = self._queue_sms(partner)
                self.gateway_double.answer(status, body)
                self._flush_sms_queue()
                self.assertRecordValues(sms, [{"state": "error", "failure_type": failure_type}])
                notification = self._notification(event)
                self.assertEqual(notification.notification_status, "exception")
                self.assertEqual(notification.failure_type, failure_type)
                event.invalidate_recordset()
                self.assertEqual(event.delivery_status, "exception")
                if failure_type == "unknown":
                    self.assertIn("HTTP 400", notification.failure_reason)
                    self.assertIn("HTTP 400", event.delivery_failure)

    def _failed_filter_finds(self, event):
        """The events' search view "Failed" filter, as the accountant clicks it."""
        arch = self.env.ref("dunning_ruler.dunning_event_view_search").arch
        [domain] = re.findall(r'<filter name="failed"[^>]*domain="([^"]*)"', arch)
        return event in self.env["dunning.event"].search(safe_eval(html.unescape(domain)))

    def test_gateway_failure_fails_the_event_until_delivered(self):
        event, _sms = self._queue_sms(self.customer_es)
        self.assertEqual(event.state, "done")
        self.assertFalse(self._failed_filter_finds(event))
        self.gateway_double.answer(503, "maintenance")
        self._flush_sms_queue()
        self.assertEqual(event.state, "failed")
        self.assertIn("maintenance", event.failure_reason)
        self.assertTrue(self._failed_filter_finds(event))
        # The gateway delivered it after all (its retry): the delivery report wins.
        payload = {"data": {"reference": event.sms_uuid, "status": "delivered"}}
        self.assertTrue(self.gateway._process_status_report(payload))
        self.assertRecordValues(event, [{"state": "done", "failure_reason": False}])
        self.assertEqual(event.delivery_status, "sent")
        self.assertFalse(self._failed_filter_finds(event))

    def test_failure_report_fails_the_event(self):
        event, _sms = self._queue_sms(self.customer_pt)
        self._flush_sms_queue()
        self.assertEqual((event.state, event.delivery_status), ("done", "pending"))
        payload = {"data": {"reference": event.sms_uuid, "status": "undelivered", "error": "handset off"}}
        self.assertTrue(self.gateway._process_status_report(payload))
        self.assertEqual(event.state, "failed")
        self.assertIn("handset off", event.failure_reason)
        self.assertTrue(self._failed_filter_finds(event))
        # A bounce report after delivery changes nothing (Odoo keeps the delivery).
        self.gateway._process_status_report({"data": {"reference": event.sms_uuid, "status": "delivered"}})
        self.gateway._process_status_report({"data": {"reference": event.sms_uuid, "status": "blocked"}})
        self.assertEqual(event.state, "done")

    def test_success_criterion_in_the_answer(self):
        self.gateway.write(
            {
                "success_json_path": "result.status",
                "success_json_values": "accepted",
                "message_id_json_path": "result.id",
            }
        )
        event, sms = self._queue_sms(self.customer_es)
        self.gateway_double.answer(200, {"result": {"status": "rejected", "id": "x"}})
        self._flush_sms_queue()
        self.assertEqual(sms.state, "error")
        self.assertIn("result.status=rejected", self._notification(event).failure_reason)

        _event2, sms2 = self._queue_sms(self.customer_pt)
        self.gateway_double.answer(202, {"result": {"status": "accepted", "id": "abc-9"}})
        self._flush_sms_queue()
        self.assertEqual(sms2.state, "pending")
        self.assertEqual(sms2.sms_tracker_id.http_gateway_message_id, "abc-9")

    def test_unreachable_gateway(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.gateway.url = f"http://127.0.0.1:{port}/closed"
        event, sms = self._queue_sms(self.customer_us)
        self._flush_sms_queue()
        self.assertRecordValues(sms, [{"state": "error", "failure_type": "sms_server"}])
        self.assertIn("Connection failed", self._notification(event).failure_reason)

    def test_configuration_is_validated(self):
        with self.assertRaises(ValidationError):
            self.gateway.body_template = '{"to": "{{number}}", "text": {{content}}'
        with self.assertRaises(ValidationError):
            self.gateway.body_template = '{"to": "{{phone}}"}'
        with self.assertRaises(ValidationError):
            self.gateway.success_status_codes = "2xx"
        with self.assertRaises(ValidationError):
            self.gateway.url = "ftp://example.com"
        # Quotes and newlines in the text stay valid JSON.
        self.gateway.body_template = '{"msg": {"dest": "{{number}}", "body": "{{content}}"}}'
        body = self.gateway._render_body(
            {"number": "+1", "content": 'a "b"\nc', "uuid": "u", "status_url": "s", "channel": "sms"}
        )
        self.assertEqual(body, '{"msg": {"dest": "+1", "body": "a \\"b\\"\\nc"}}')
        with self.assertRaises(ValidationError):
            self.company.sudo().sms_http_gateway_id = (
                self.env["sms.http.gateway"]
                .sudo()
                .create({"name": "WA", "url": "https://wa.example.com", "channel": "whatsapp"})
            )

    def test_each_company_uses_its_own_gateway(self):
        other = (
            self.env["res.company"]
            .sudo()
            .create({"name": "Fleet Brasil Ltda", "country_id": self.env.ref("base.br").id})
        )
        other_gateway = (
            self.env["sms.http.gateway"]
            .sudo()
            .create(
                {
                    "name": "BR gateway",
                    "company_id": other.id,
                    "url": self.gateway_double.url,
                    "auth_header_name": "X-Api-Key",
                    "auth_header_value": "br-key",
                }
            )
        )
        other.sms_http_gateway_id = other_gateway
        _event_a, sms_a = self._queue_sms(self.customer_es)
        event_b = (
            self.env["dunning.event"]
            .sudo()
            .create(
                {
                    "partner_id": self.customer_br.id,
                    "company_id": other.id,
                    "channel": "sms",
                    "currency_id": other.currency_id.id,
                    "phone_number": "+5511912345678",
                }
            )
        )
        sms_b = (
            self.env["sms.sms"]
            .sudo()
            .create(
                {
                    "number": "+5511912345678",
                    "body": "Olá",
                    "dunning_event_id": event_b.id,
                    "partner_id": self.customer_br.id,
                }
            )
        )
        self.assertEqual(sms_b._get_sms_company(), other)
        (sms_a | sms_b).send(unlink_sent=False)
        by_number = {r["json"]["to"]: r["headers"] for r in self.gateway_double.requests}
        self.assertEqual(by_number["+34612345678"]["Authorization"], "Bearer s3cr3t")
        self.assertNotIn("X-Api-Key", by_number["+34612345678"])
        self.assertEqual(by_number["+5511912345678"]["X-Api-Key"], "br-key")
        self.assertEqual((sms_a | sms_b).mapped("state"), ["pending", "pending"])
