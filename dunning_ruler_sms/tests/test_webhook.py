import json
import time
import uuid

from odoo.tests import HttpCase, tagged

from odoo.addons.dunning_ruler.tools import webhook

from .gateway_double import GatewayDouble


@tagged("post_install", "-at_install")
class TestGatewayWebhook(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.double = GatewayDouble().start()
        cls.addClassCleanup(cls.double.stop)
        cls.gateway = cls.env["sms.http.gateway"].create({"name": "Hook gateway", "url": cls.double.url})
        cls.other_gateway = cls.env["sms.http.gateway"].create({"name": "Other", "url": cls.double.url})
        cls.env.company.sms_http_gateway_id = cls.gateway
        cls.partner = cls.env["res.partner"].create(
            {"name": "Hooked", "phone": "+351 912 345 678", "country_id": cls.env.ref("base.pt").id}
        )

    def setUp(self):
        super().setUp()
        self.partner._message_sms("Hello", partner_ids=self.partner.ids, put_in_queue=True)
        self.sms = self.env["sms.sms"].search(
            [("partner_id", "=", self.partner.id)], order="id desc", limit=1
        )
        self.sms.send(unlink_sent=True)
        self.tracker = self.env["sms.tracker"].search([("sms_uuid", "=", self.sms.uuid)])
        self.notification = self.tracker.mail_notification_id
        self.assertEqual(self.notification.notification_status, "pending")

    def _post(self, payload, gateway=None, secret=None, timestamp=None):
        gateway = gateway or self.gateway
        body = json.dumps(payload)
        msg_id = f"msg_{uuid.uuid4().hex}"
        timestamp = int(timestamp if timestamp is not None else time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook.sign(secret or gateway.webhook_secret, msg_id, timestamp, body),
        }
        return self.url_open(f"/dunning_ruler_sms/gateway/{gateway.id}/status", data=body, headers=headers)

    def test_delivered_report_updates_the_tracker(self):
        response = self._post(
            {"type": "message.status", "data": {"reference": self.sms.uuid, "status": "delivered"}}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"received": 1, "applied": 1})
        self.notification.invalidate_recordset()
        self.assertEqual(self.notification.notification_status, "sent")

    def test_failure_report_by_gateway_message_id(self):
        response = self._post(
            {
                "data": {
                    "reference": self.tracker.http_gateway_message_id,
                    "status": "undelivered",
                    "error": "handset off",
                }
            }
        )
        self.assertEqual(response.status_code, 200)
        self.notification.invalidate_recordset()
        self.assertEqual(self.notification.notification_status, "exception")
        self.assertEqual(self.notification.failure_type, "sms_not_delivered")
        self.assertEqual(self.notification.failure_reason, "handset off")

    def test_bad_signature_stale_timestamp_or_other_gateway_are_refused(self):
        payload = {"data": {"reference": self.sms.uuid, "status": "delivered"}}
        self.assertEqual(self._post(payload, secret=webhook.generate_secret()).status_code, 401)
        self.assertEqual(self._post(payload, timestamp=time.time() - 3600).status_code, 401)
        response = self.url_open(
            f"/dunning_ruler_sms/gateway/{self.gateway.id}/status",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 401)
        # Correctly signed by another gateway, which did not send this message.
        response = self._post(payload, gateway=self.other_gateway)
        self.assertEqual(response.json(), {"received": 1, "applied": 0})
        self.assertEqual(
            self.url_open("/dunning_ruler_sms/gateway/999999/status", data="{}").status_code, 404
        )
        self.notification.invalidate_recordset()
        self.assertEqual(self.notification.notification_status, "pending")


@tagged("post_install", "-at_install")
class TestWebhookSignatureFallback(HttpCase):
    """The pure-python verification used when the standardwebhooks package is absent."""

    def test_fallback_verification(self):
        from unittest.mock import patch

        secret = webhook.generate_secret()
        body = json.dumps({"data": {"status": "sent"}})
        now = int(time.time())
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now),
            "webhook-signature": "v1,Ym9ndXM= " + webhook.sign(secret, "msg_1", now, body),
        }
        with patch.object(webhook, "_StandardWebhook", None):
            self.assertEqual(webhook.verify(secret, body.encode(), headers), {"data": {"status": "sent"}})
            with self.assertRaises(webhook.WebhookVerificationError):
                webhook.verify(secret, body.encode() + b" ", headers)
            with self.assertRaises(webhook.WebhookVerificationError):
                webhook.verify(webhook.generate_secret(), body.encode(), headers)
            stale = dict(headers, **{"webhook-timestamp": str(now - 3600)})
            stale["webhook-signature"] = webhook.sign(secret, "msg_1", now - 3600, body)
            with self.assertRaises(webhook.WebhookVerificationError):
                webhook.verify(secret, body.encode(), stale)
            with self.assertRaises(webhook.WebhookVerificationError):
                webhook.verify(secret, body.encode(), {"webhook-id": "x"})
        # And the reference implementation accepts what we sign.
        self.assertEqual(webhook.verify(secret, body.encode(), headers), {"data": {"status": "sent"}})
