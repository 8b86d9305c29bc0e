from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools.quiet_hours import is_whole_minutes
from ..tools.sms_api import SmsApiHttpGateway

#: the gateway field of each channel (any other channel goes through the SMS gateway)
HTTP_GATEWAY_FIELDS = {"sms": "sms_http_gateway_id", "whatsapp": "whatsapp_http_gateway_id"}


class ResCompany(models.Model):
    _inherit = "res.company"

    sms_http_gateway_id = fields.Many2one(
        "sms.http.gateway",
        string="SMS HTTP Gateway",
        groups="base.group_system",
        domain="[('channel', '=', 'sms'), ('company_id', '=', id)]",
        help="When set, every SMS of this company goes through this gateway instead of the default provider.",
    )
    whatsapp_http_gateway_id = fields.Many2one(
        "sms.http.gateway",
        string="WhatsApp HTTP Gateway",
        groups="base.group_system",
        domain="[('channel', '=', 'whatsapp'), ('company_id', '=', id)]",
        help="Gateway carrying the WhatsApp messages of dunning levels.",
    )
    dunning_sms_window_start = fields.Float(
        "SMS Window Opens", default=8.0, help="Local hour of the recipient from which SMS may be sent."
    )
    dunning_sms_window_end = fields.Float(
        "SMS Window Closes",
        default=20.0,
        help="Local hour of the recipient after which SMS wait for the next day.",
    )
    dunning_sms_allow_sunday = fields.Boolean("Send SMS on Sundays")

    @api.constrains("dunning_sms_window_start", "dunning_sms_window_end")
    def _check_dunning_sms_window(self):
        for company in self:
            start, end = company.dunning_sms_window_start, company.dunning_sms_window_end
            # The range first: NaN and infinities fail it (and cannot be rounded).
            if not (0 <= start < end <= 24 and is_whole_minutes(start) and is_whole_minutes(end)):
                raise ValidationError(
                    self.env._(
                        "The SMS sending window of %s must open before it closes, within the day "
                        "(00:00 to 24:00), on whole minutes.",
                        company.name,
                    )
                )

    @api.constrains(*HTTP_GATEWAY_FIELDS.values())
    def _check_http_gateways(self):
        for company in self.sudo():
            for channel, fname in HTTP_GATEWAY_FIELDS.items():
                gateway = company[fname]
                if gateway and (gateway.channel != channel or gateway.company_id != company):
                    raise ValidationError(
                        self.env._(
                            "Gateway “%(gateway)s” must carry %(channel)s for %(company)s.",
                            gateway=gateway.name,
                            channel=channel,
                            company=company.name,
                        )
                    )

    def _get_http_gateway(self, channel):
        self.ensure_one()
        gateway = self.sudo()[HTTP_GATEWAY_FIELDS.get(channel, "sms_http_gateway_id")]
        return gateway if gateway.active else gateway.browse()

    def _get_sms_api_class(self):
        self.ensure_one()
        if self._get_http_gateway("sms"):
            return SmsApiHttpGateway
        return super()._get_sms_api_class()
