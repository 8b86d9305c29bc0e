import json
import logging

from odoo.http import Controller, Response, request, route

from odoo.addons.dunning_ruler.tools.webhook import WebhookVerificationError

_logger = logging.getLogger(__name__)


class SmsHttpGatewayController(Controller):
    @route(
        "/dunning_ruler_sms/gateway/<int:gateway_id>/status",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def gateway_status(self, gateway_id, **kwargs):
        """Delivery report of an HTTP gateway, signed the Standard Webhooks way."""
        gateway = request.env["sms.http.gateway"].sudo().browse(gateway_id).exists()
        if not gateway or not gateway.active:
            return Response("Unknown gateway", status=404)
        try:
            payload = gateway._verify_webhook(
                request.httprequest.get_data(), dict(request.httprequest.headers)
            )
        except WebhookVerificationError as e:
            _logger.warning("SMS HTTP gateway %s: rejected delivery report: %s", gateway.id, e)
            return Response("Invalid signature", status=401)
        reports = payload if isinstance(payload, list) else [payload]
        applied = sum(
            1 for report in reports if isinstance(report, dict) and gateway._process_status_report(report)
        )
        return Response(
            json.dumps({"received": len(reports), "applied": applied}),
            status=200,
            content_type="application/json",
        )
