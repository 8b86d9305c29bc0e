import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

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

    def _headers(self, body, secret=None, msg_id=None, timestamp=None):
        """Standard Webhooks headers of ``body`` (bytes, signed as they are)."""
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(timestamp if timestamp is not None else time.time())
        key = base64.b64decode((secret or self.gateway.webhook_secret).removeprefix("whsec_"))
        digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }

    def _post_raw(self, body, headers, gateway_id=None):
        gateway_id = self.gateway.id if gateway_id is None else gateway_id
        return self.url_open(f"/dunning_ruler_sms/gateway/{gateway_id}/status", data=body, headers=headers)

    def _post(self, payload, gateway=None, secret=None, timestamp=None):
        gateway = gateway or self.gateway
        body = json.dumps(payload).encode()
        headers = self._headers(body, secret=secret or gateway.webhook_secret, timestamp=timestamp)
        return self._post_raw(body, headers, gateway.id)

    def _status(self):
        self.notification.invalidate_recordset()
        return self.notification.notification_status

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
        self.assertEqual(self._status(), "pending")

    def test_unknown_gateway_and_bad_signature_get_the_same_answer(self):
        body = json.dumps({"data": {"reference": self.sms.uuid, "status": "delivered"}}).encode()
        bad_signature = self._post_raw(body, self._headers(body, secret=webhook.generate_secret()))
        self.assertEqual(bad_signature.status_code, 401)
        archived = self.env["sms.http.gateway"].create(
            {"name": "Archived", "url": self.double.url, "active": False}
        )
        cases = {
            "unknown gateway": (999999, self._headers(body)),
            "id beyond PostgreSQL integers": (10**20, self._headers(body)),
            "archived gateway, its own signature": (
                archived.id,
                self._headers(body, archived.webhook_secret),
            ),
            "no signature headers": (self.gateway.id, {"Content-Type": "application/json"}),
            "stale timestamp": (self.gateway.id, self._headers(body, timestamp=time.time() - 3600)),
        }
        for name, (gateway_id, headers) in cases.items():
            with self.subTest(name):
                response = self._post_raw(body, headers, gateway_id)
                self.assertEqual(
                    (response.status_code, response.text), (bad_signature.status_code, bad_signature.text)
                )
        self.assertEqual(self._status(), "pending")

    def test_body_over_64_kib_is_refused_before_hashing(self):
        report = {"data": {"reference": self.sms.uuid, "status": "delivered"}}
        at_limit = json.dumps(dict(report, padding="x" * 65_400)).encode()
        at_limit += b" " * (webhook.MAX_BODY_BYTES - len(at_limit))
        over = at_limit + b" "
        headers = self._headers(over)
        with patch("hmac.new", wraps=hmac.new) as hmac_new:
            response = self._post_raw(over, headers)
            self.assertEqual(response.status_code, 413)
            chunked = self.url_open(
                f"/dunning_ruler_sms/gateway/{self.gateway.id}/status",
                data=(over[i : i + 8192] for i in range(0, len(over), 8192)),
                headers=headers,
            )
            self.assertEqual(chunked.status_code, 413, "no Content-Length: counted while read")
            huge = over * 16
            self.assertEqual(self._post_raw(huge, headers).status_code, 413)
        hashed = [
            call for call in hmac_new.call_args_list if len(call.args) > 1 and over in bytes(call.args[1])
        ]
        self.assertFalse(hashed)
        self.assertEqual(self._status(), "pending")
        response = self._post_raw(at_limit, self._headers(at_limit))
        self.assertEqual(response.json(), {"received": 1, "applied": 1})
        self.assertEqual(self._status(), "sent")

    def test_replayed_report_is_refused(self):
        body = json.dumps({"data": {"reference": self.sms.uuid, "status": "undelivered"}}).encode()
        headers = self._headers(body)
        self.assertEqual(self._post_raw(body, headers).json(), {"received": 1, "applied": 1})
        self.assertEqual(self._status(), "exception")
        self.notification.notification_status = "sent"
        replay = self._post_raw(body, headers)
        self.assertEqual(replay.status_code, 409)
        self.assertEqual(self._status(), "sent", "the replay changed nothing")
        # The id is the gateway's: another gateway may use it, this one a new one.
        other_body = json.dumps({"data": {"reference": "nothing", "status": "sent"}}).encode()
        other = self._post_raw(
            other_body,
            self._headers(other_body, self.other_gateway.webhook_secret, msg_id=headers["webhook-id"]),
            self.other_gateway.id,
        )
        self.assertEqual(other.status_code, 200)
        self.assertEqual(self._post_raw(body, self._headers(body)).status_code, 200)
        # Remembered as long as a replay could pass the timestamp check, then forgotten.
        Receipt = self.env["sms.http.gateway.receipt"]
        receipt = Receipt.search(
            [("gateway_id", "=", self.gateway.id), ("webhook_id", "=", headers["webhook-id"])]
        )
        self.assertTrue(receipt)
        now = datetime.now()
        with freeze_time(now + timedelta(seconds=2 * webhook.TOLERANCE_SECONDS)):
            Receipt._gc_expired()
        self.assertTrue(receipt.exists())
        with freeze_time(now + timedelta(seconds=2 * webhook.TOLERANCE_SECONDS + 120)):
            Receipt._gc_expired()
        self.assertFalse(receipt.exists())

    def test_malformed_input_never_makes_a_500(self):
        report = json.dumps({"data": {"reference": self.sms.uuid, "status": "delivered"}}).encode()
        header_cases = {
            f"timestamp {value!r}": {"webhook-timestamp": value}
            for value in ("inf", "-inf", "nan", "1e400", "9" * 400, "-1", "12.5", "0x10", "\xb2")
        }
        header_cases.update(
            {
                "non-ASCII signature": {"webhook-signature": "v1,\xe9t\xe9"},
                "signature without version": {"webhook-signature": "garbage"},
                "signature with commas": {"webhook-signature": "v1,a,b v2 v1,,"},
                "non-base64 signature": {"webhook-signature": "v1,***"},
                "id of 300 characters": {"webhook-id": "m" * 300},
            }
        )
        for name, override in header_cases.items():
            with self.subTest(name):
                headers = {**self._headers(report), **override}
                for gateway_id in (self.gateway.id, 999999):
                    response = self._post_raw(report, headers, gateway_id)
                    self.assertEqual((response.status_code, response.text), (401, "Invalid signature"))
        signed_cases = {
            "not UTF-8": (b'{"data": "\xff\xfe"}', 401),
            "not JSON": (b"delivered", 400),
            "JSON number": (b"42", 400),
            "JSON string": (b'"delivered"', 400),
            "JSON null": (b"null", 400),
            "nested too deep": (b"[" * 30_000 + b"]" * 30_000, 400),
            "integer of 5000 digits": (b'{"a": ' + b"9" * 5000 + b"}", 400),
            "NUL in the reference": (b'{"data": {"reference": "\\u0000x", "status": "delivered"}}', 200),
            "NUL in the error": (
                json.dumps(
                    {"data": {"reference": self.sms.uuid, "status": "failed", "error": "off\u0000line"}}
                ).encode(),
                200,
            ),
            "list of anything": (b'[1, "a", null, [], {"data": {"reference": 5, "status": 7}}]', 200),
        }
        for name, (body, status) in signed_cases.items():
            with self.subTest(name):
                response = self._post_raw(body, self._headers(body))
                self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(self._status(), "exception")
        self.assertEqual(self.notification.failure_reason, "offline")
        weird_id = self._headers(report, msg_id="msg\x01")
        self.assertEqual(self._post_raw(report, weird_id).status_code, 400)


@tagged("post_install", "-at_install")
class TestWebhookSignatureFallback(HttpCase):
    """The pure-python verification used when the standardwebhooks package is absent."""

    def test_fallback_verification(self):
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

    def test_malformed_input_raises_only_the_verification_error(self):
        """With or without the reference implementation, ``verify`` raises nothing
        but WebhookVerificationError, whatever arrives (the controller answers 401,
        400 or 413 from its subclasses, never 500)."""
        secret = webhook.generate_secret()
        now = int(time.time())

        def signed(body, **override):
            text = body.decode("latin-1") if isinstance(body, bytes) else body
            headers = {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(now),
                "webhook-signature": webhook.sign(secret, "msg_1", now, text),
            }
            return {**headers, **override}

        good = b'{"data": {"status": "sent"}}'
        refused = {
            **{
                f"timestamp {value!r}": (good, signed(good, **{"webhook-timestamp": value}))
                for value in ("inf", "nan", "1e400", "9" * 400, "-5", "١٢٣", "")
            },
            "non-ASCII signature": (good, signed(good, **{"webhook-signature": "v1,été"})),
            "signature with commas": (good, signed(good, **{"webhook-signature": "v1,a,b v1,,"})),
            "no headers": (good, {}),
            "body not UTF-8": (b"\xff\xfe{}", signed(b"\xff\xfe{}")),
        }
        malformed = {
            "not JSON": b"delivered",
            "nested too deep": b"[" * 30_000 + b"]" * 30_000,
            "integer of 5000 digits": b"9" * 5000,
        }
        for fallback in (False, True):
            with patch.object(webhook, "_StandardWebhook", None if fallback else webhook._StandardWebhook):
                for name, (body, headers) in refused.items():
                    with (
                        self.subTest(name, fallback=fallback),
                        self.assertRaises(webhook.WebhookVerificationError),
                    ):
                        webhook.verify(secret, body, headers)
                for name, body in malformed.items():
                    with (
                        self.subTest(name, fallback=fallback),
                        self.assertRaises(webhook.WebhookPayloadError),
                    ):
                        webhook.verify(secret, body, signed(body))
                too_large = b" " * (webhook.MAX_BODY_BYTES + 1)
                with self.assertRaises(webhook.WebhookPayloadTooLarge):
                    webhook.verify(secret, too_large, signed(too_large))
                self.assertEqual(
                    webhook.verify(secret, too_large + good, signed(too_large + good), max_size=None),
                    {"data": {"status": "sent"}},
                )
                self.assertEqual(
                    webhook.verify(secret, good.decode(), signed(good)), {"data": {"status": "sent"}}
                )
        with self.assertRaises(webhook.WebhookVerificationError):
            webhook.verify("whsec_***", good, signed(good))
