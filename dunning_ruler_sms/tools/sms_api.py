from odoo.addons.sms.tools.sms_api import SmsApiBase


class SmsApiHttpGateway(SmsApiBase):
    """Odoo SMS provider seam for ``sms.http.gateway``: the queue (sms.sms) hands
    batches to ``_send_sms_batch``; the gateway record does the HTTP calls."""

    PROVIDER_TO_SMS_FAILURE_TYPE = SmsApiBase.PROVIDER_TO_SMS_FAILURE_TYPE | {
        "gateway_auth": "sms_acc",
    }

    def __init__(self, env, account=None, gateway=None, channel="sms"):
        super().__init__(env, account=account)
        self.gateway = gateway
        self.channel = channel

    def _get_gateway(self):
        return self.gateway or self.company._get_http_gateway(self.channel)

    def _send_sms_batch(self, messages, delivery_reports_url=False):
        gateway = self._get_gateway()
        if not gateway:
            return [
                {
                    "uuid": number["uuid"],
                    "state": "gateway_missing",
                    "failure_reason": self.env._(
                        "No %(channel)s HTTP gateway is configured for %(company)s.",
                        channel=self.channel,
                        company=self.company.name,
                    ),
                }
                for message in messages
                for number in message["numbers"]
            ]
        return gateway.sudo()._send_messages(messages)

    def _get_sms_api_error_messages(self):
        return super()._get_sms_api_error_messages() | {
            "gateway_auth": self.env._("The HTTP gateway refused the credentials."),
            "server_error": self.env._("The HTTP gateway is unreachable or failed."),
        }
