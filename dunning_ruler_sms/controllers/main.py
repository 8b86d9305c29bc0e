import json
import logging

from odoo.http import Controller, Response, request, route

from odoo.addons.dunning_ruler.tools import webhook

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = webhook.MAX_BODY_BYTES
# A request naming no active gateway is checked against this secret, which signs
# nothing: it is refused the way a bad signature is, after the same work.
_NO_GATEWAY_SECRET = webhook.generate_secret()
_PG_MAX_ID = 2**31 - 1


def _answer(status, text):
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


class SmsHttpGatewayController(Controller):
    @route(
        "/dunning_ruler_sms/gateway/<int:gateway_id>/status",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        # One byte more than accepted: a body sent in chunks (no Content-Length) is
        # read up to there, and known too large without reading the rest.
        max_content_length=MAX_BODY_BYTES + 1,
    )
    def gateway_status(self, gateway_id, **kwargs):
        """Delivery report of an HTTP gateway, signed the Standard Webhooks way.

        401 with the same text for an unknown or archived gateway and for a bad
        signature (the answer does not tell which gateways exist), 413 for a body
        over 64 KiB (never hashed), 400 for a signed body that is not a JSON object
        or list, 409 for a ``webhook-id`` already received; malformed input never
        makes a 500."""
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            return _answer(413, "Payload too large")
        body = httprequest.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:
            return _answer(413, "Payload too large")
        # One value per name (WSGI joins repeated headers): what is verified is what is recorded.
        headers = {key.lower(): value for key, value in httprequest.headers.items()}
        gateway = request.env["sms.http.gateway"].sudo().browse()
        if 0 < gateway_id <= _PG_MAX_ID:
            gateway = gateway.search([("id", "=", gateway_id)])  # active ones only
        try:
            if gateway:
                payload = gateway._verify_webhook(body, headers)
            else:
                payload = webhook.verify(_NO_GATEWAY_SECRET, body, headers)
        except webhook.WebhookPayloadTooLarge:
            return _answer(413, "Payload too large")
        except webhook.WebhookPayloadError:
            return _answer(400, "Malformed report")
        except webhook.WebhookVerificationError as e:
            _logger.warning("SMS HTTP gateway %s: rejected delivery report: %s", gateway_id, e)
            return _answer(401, "Invalid signature")
        if not isinstance(payload, dict | list):
            return _answer(400, "Malformed report")
        webhook_id = headers["webhook-id"]
        if not webhook_id.isprintable():
            return _answer(400, "Malformed webhook-id")
        if not request.env["sms.http.gateway.receipt"].sudo()._record_receipt(gateway, webhook_id):
            _logger.info("SMS HTTP gateway %s: delivery report %s already received", gateway.id, webhook_id)
            return _answer(409, "Report already received")
        reports = payload if isinstance(payload, list) else [payload]
        applied = sum(
            1 for report in reports if isinstance(report, dict) and gateway._process_status_report(report)
        )
        return Response(
            json.dumps({"received": len(reports), "applied": applied}),
            status=200,
            content_type="application/json",
        )
