import json
import logging
import re

import requests

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.urls import urljoin as url_join

from odoo.addons.dunning_ruler.tools import webhook
from odoo.addons.dunning_ruler.tools.redact import redact

_logger = logging.getLogger(__name__)

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
PLACEHOLDERS = ("number", "content", "uuid", "status_url", "channel")
DEFAULT_BODY = (
    '{"to": "{{number}}", "text": "{{content}}", "channel": "{{channel}}",\n'
    ' "reference": "{{uuid}}", "status_url": "{{status_url}}"}'
)

# Statuses a gateway reports through the webhook, mapped to Odoo's SMS states
# (sms.tracker) or, for failures, to Odoo's delivery error codes.
WEBHOOK_SUCCESS_STATES = {
    "accepted": "process",
    "queued": "process",
    "sending": "process",
    "sent": "pending",
    "delivered": "sent",
    "read": "sent",
}
WEBHOOK_ERROR_STATES = {
    "failed": "not_delivered",
    "undelivered": "not_delivered",
    "expired": "expired",
    "rejected": "rejected",
    "blocked": "not_allowed",
    "invalid_number": "invalid_destination",
}


def _dig(data, path):
    """Value at a dotted ``path`` (``data.status``, ``messages.0.id``) of parsed JSON."""
    for key in (path or "").split("."):
        if not key:
            continue
        if isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return data


class SmsHttpGateway(models.Model):
    """A generic JSON-over-HTTP SMS / WhatsApp provider, plugged into Odoo's SMS
    queue through ``res.company._get_sms_api_class`` and ``sms.sms._split_by_api``.

    Only system administrators can see it: it holds credentials.
    """

    _name = "sms.http.gateway"
    _description = "SMS HTTP Gateway"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    channel = fields.Selection(
        [("sms", "SMS"), ("whatsapp", "WhatsApp")],
        required=True,
        default="sms",
        help="What this gateway carries: dunning levels send SMS and WhatsApp messages through "
        "the gateway of the matching channel chosen in the settings.",
    )
    # The URL may carry a key (in its query, path or user info): system administrators only.
    url = fields.Char(
        "Endpoint URL",
        required=True,
        groups="base.group_system",
        help="Messages are POSTed there as JSON, one request per recipient.",
    )
    auth_header_name = fields.Char("Authentication Header", default="Authorization")
    auth_header_value = fields.Char(
        "Authentication Value", groups="base.group_system", copy=False, help="e.g. 'Bearer <token>'."
    )
    body_template = fields.Text(
        "JSON Body",
        required=True,
        default=DEFAULT_BODY,
        help="JSON sent for each message. Placeholders, inside JSON strings: {{number}} (E.164), "
        "{{content}}, {{uuid}} (Odoo's reference of the message), {{status_url}} (this gateway's "
        "delivery webhook), {{channel}}.",
    )
    success_status_codes = fields.Char(
        "Success HTTP Codes",
        required=True,
        default="200-299",
        help="Codes or ranges, comma separated: '200-299', '200,202'.",
    )
    success_json_path = fields.Char(
        "Success Field",
        help="Optional dotted path in the JSON answer that must hold one of the success values, "
        "e.g. 'status'.",
    )
    success_json_values = fields.Char(
        "Success Values", default="ok,queued,accepted,sent", help="Comma separated."
    )
    message_id_json_path = fields.Char(
        "Message ID Field",
        default="id",
        help="Dotted path of the gateway's message id in the JSON answer, kept for tracking.",
    )
    timeout = fields.Float("Timeout (s)", default=10.0, required=True)
    webhook_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        default=lambda self: webhook.generate_secret(),
        help="Standard Webhooks secret (whsec_...) shared with the gateway to sign delivery reports.",
    )
    webhook_url = fields.Char("Delivery Webhook", compute="_compute_webhook_url")
    webhook_reference_path = fields.Char("Webhook Reference Field", default="data.reference", required=True)
    webhook_status_path = fields.Char("Webhook Status Field", default="data.status", required=True)
    webhook_error_path = fields.Char("Webhook Error Field", default="data.error")

    _timeout_positive = models.Constraint(
        "CHECK(timeout > 0 AND timeout <= 120)", "The timeout must be between 0 and 120 seconds."
    )

    @api.depends("company_id")
    def _compute_webhook_url(self):
        for gateway in self:
            gateway.webhook_url = (
                url_join(gateway.get_base_url(), f"/dunning_ruler_sms/gateway/{gateway.id}/status")
                if gateway.id
                else False
            )

    @api.constrains("url")
    def _check_url(self):
        for gateway in self:
            if not re.match(r"^https?://[^\s/]+", gateway.url or ""):
                raise ValidationError(
                    self.env._("The endpoint of gateway “%s” must be an http(s) URL.", gateway.name)
                )

    @api.constrains("success_status_codes")
    def _check_success_status_codes(self):
        for gateway in self:
            if not gateway._success_codes():
                raise ValidationError(
                    self.env._(
                        "“%s” is not a list of HTTP codes or ranges (e.g. 200-299).",
                        gateway.success_status_codes,
                    )
                )

    @api.constrains("body_template")
    def _check_body_template(self):
        for gateway in self:
            gateway._render_body({key: 'x"y' for key in PLACEHOLDERS})

    def _success_codes(self):
        codes = set()
        for part in (self.success_status_codes or "").split(","):
            part = part.strip()
            match = re.fullmatch(r"(\d{3})(?:\s*-\s*(\d{3}))?", part)
            if not match:
                return set()
            low, high = int(match[1]), int(match[2] or match[1])
            if low > high:
                return set()
            codes.update(range(low, high + 1))
        return codes

    def _render_body(self, values):
        """The JSON body with the placeholders replaced by JSON-escaped values."""
        self.ensure_one()

        def replace(match):
            key = match[1]
            if key not in values:
                raise ValidationError(
                    self.env._(
                        "Unknown placeholder {{%(key)s}} in the body of gateway “%(name)s”.",
                        key=key,
                        name=self.name,
                    )
                )
            return json.dumps(str(values[key] or ""))[1:-1]

        body = PLACEHOLDER_RE.sub(replace, self.body_template or "")
        try:
            json.loads(body)
        except ValueError as e:
            raise ValidationError(
                self.env._(
                    "The body of gateway “%(name)s” is not valid JSON: %(error)s", name=self.name, error=e
                )
            ) from e
        return body

    def action_regenerate_webhook_secret(self):
        self.webhook_secret = webhook.generate_secret()

    # ------------------------------------------------------------------
    # Sending (called by SmsApiHttpGateway, as superuser)
    # ------------------------------------------------------------------
    def _send_messages(self, messages):
        """Send the batch ``messages`` of sms.sms (see SmsApiBase._send_sms_batch)
        and return one result dict per number."""
        self.ensure_one()
        results = []
        with requests.Session() as session:
            for message in messages:
                content = message.get("content") or ""
                for number in message.get("numbers") or []:
                    results.append(self._send_one(session, number["number"], content, number["uuid"]))
        # Failure texts end up in the chatter and on dunning events: never a credential.
        for result in results:
            if result.get("failure_reason"):
                result["failure_reason"] = self._redact(result["failure_reason"])
        return results

    def _redact(self, text):
        """``text`` without this gateway's credentials: its authentication value (and
        the token in it), its webhook secret, and its URL but for the host (a key may
        sit in the user info, path or query; exceptions quote the request line)."""
        self.ensure_one()
        gateway = self.sudo()
        auth = gateway.auth_header_value or ""
        secrets = [auth, gateway.webhook_secret, *auth.split()[1:]]  # "Bearer <token>"
        return redact(text, secrets, gateway.url)

    def _send_one(self, session, number, content, uuid):
        result = {"uuid": uuid, "gateway_id": self.id}
        if not number:
            return dict(result, state="sms_number_missing", failure_reason=self.env._("No number."))
        body = self._render_body(
            {
                "number": number,
                "content": content,
                "uuid": uuid,
                "status_url": self.webhook_url,
                "channel": self.channel,
            }
        )
        # The uuid as idempotency key lets the gateway drop a resend of the same
        # message (Odoo's queue may resend if its transaction fails after the call).
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid}
        if self.auth_header_name and self.auth_header_value:
            headers[self.auth_header_name] = self.auth_header_value
        try:
            response = session.post(self.url, data=body.encode(), headers=headers, timeout=self.timeout)
        except requests.Timeout:
            return dict(
                result,
                state="server_error",
                failure_reason=self.env._("No answer within %s seconds.", self.timeout),
            )
        except requests.RequestException as e:
            error = self._redact(str(e))
            _logger.warning("SMS HTTP gateway %s: %s", self.name, error)
            return dict(
                result, state="server_error", failure_reason=self.env._("Connection failed: %s", error)
            )
        return dict(result, **self._interpret_response(response))

    def _interpret_response(self, response):
        snippet = self._redact(response.text or "")[:300]
        if response.status_code not in self._success_codes():
            reason = self.env._("HTTP %(code)s: %(body)s", code=response.status_code, body=snippet)
            if response.status_code in (401, 403):
                return {"state": "gateway_auth", "failure_reason": reason}
            if response.status_code >= 500 or response.status_code == 429:
                return {"state": "server_error", "failure_reason": reason}
            return {"state": "gateway_rejected", "failure_reason": reason}
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if self.success_json_path:
            value = _dig(data, self.success_json_path)
            allowed = {v.strip() for v in (self.success_json_values or "").split(",") if v.strip()}
            if value is None or str(value) not in allowed:
                return {
                    "state": "gateway_rejected",
                    "failure_reason": self.env._(
                        "Answer %(field)s=%(value)s is not a success: %(body)s",
                        field=self.success_json_path,
                        value=value,
                        body=snippet,
                    ),
                }
        message_id = _dig(data, self.message_id_json_path) if self.message_id_json_path else None
        return {
            "state": "success",
            "gateway_message_id": str(message_id) if message_id is not None else False,
        }

    # ------------------------------------------------------------------
    # Delivery reports
    # ------------------------------------------------------------------
    def _verify_webhook(self, body, headers):
        self.ensure_one()
        return webhook.verify(self.sudo().webhook_secret, body, headers)

    def _process_status_report(self, payload):
        """Apply one delivery report to the SMS tracker (and so to the message's
        notification and the dunning event). Returns False if it does not apply."""
        self.ensure_one()
        reference = _dig(payload, self.webhook_reference_path)
        status = _dig(payload, self.webhook_status_path)
        error = _dig(payload, self.webhook_error_path) if self.webhook_error_path else None
        if not reference or not isinstance(status, str) or not isinstance(reference, str | int):
            return False
        reference = str(reference)
        if "\x00" in reference:  # PostgreSQL text cannot hold it: no message has it
            return False
        status = status.lower()
        Tracker = self.env["sms.tracker"].sudo()
        tracker = Tracker.search(
            [
                ("http_gateway_id", "=", self.id),
                "|",
                ("sms_uuid", "=", reference),
                ("http_gateway_message_id", "=", reference),
            ],
            limit=1,
        )
        if not tracker:
            return False
        if status in WEBHOOK_SUCCESS_STATES:
            tracker._action_update_from_sms_state(WEBHOOK_SUCCESS_STATES[status])
        elif status in WEBHOOK_ERROR_STATES:
            tracker.with_context(
                sms_known_failure_reason=error and str(error).replace("\x00", "")[:300]
            )._action_update_from_provider_error(WEBHOOK_ERROR_STATES[status])
        else:
            return False
        # The queue no longer needs the sms.sms: the tracker keeps the outcome.
        self.env["sms.sms"].sudo().search(
            [("uuid", "=", tracker.sms_uuid), ("to_delete", "=", False)]
        ).to_delete = True
        return True
