from collections import defaultdict

from odoo import fields, models

from ..tools.sms_api import SmsApiHttpGateway


class SmsSms(models.Model):
    _inherit = "sms.sms"

    dunning_event_id = fields.Many2one(
        "dunning.event", index="btree_not_null", ondelete="set null", readonly=True
    )

    def _get_sms_company(self):
        # The dunning event knows the company; the customer's message may not.
        if len(self) == 1 and self.dunning_event_id:
            return self.dunning_event_id.company_id
        return super()._get_sms_company()

    def _get_http_channel(self):
        return "whatsapp" if self.dunning_event_id.channel == "whatsapp" else "sms"

    def _split_by_api(self):
        """Route the SMS of companies using an HTTP gateway (and every WhatsApp
        message) to their gateway; the rest goes to the other providers."""
        by_gateway = defaultdict(lambda: self.browse())
        no_gateway = self.browse()
        others = self.browse()
        for sms in self:
            channel = sms._get_http_channel()
            gateway = sms._get_sms_company()._get_http_gateway(channel)
            if gateway:
                by_gateway[gateway] |= sms
            elif channel == "whatsapp":
                no_gateway |= sms
            else:
                others |= sms
        for gateway, gateway_sms in by_gateway.items():
            api = SmsApiHttpGateway(self.env, gateway=gateway)
            api._set_company(gateway.company_id)
            yield api, gateway_sms
        if no_gateway:
            # Never hand a WhatsApp message to an SMS provider: fail it instead.
            for company, company_sms in no_gateway.grouped(lambda s: s._get_sms_company()).items():
                api = SmsApiHttpGateway(self.env, channel="whatsapp")
                api._set_company(company)
                yield api, company_sms
        if others:
            yield from super(SmsSms, others)._split_by_api()

    def _handle_call_result_hook(self, results):
        """Keep which gateway sent each message, and its id there, on the tracker
        (sms.sms records are deleted once sent)."""
        by_uuid = self.grouped("uuid")
        for result in results:
            sms = by_uuid.get(result.get("uuid"))
            if sms and result.get("gateway_id") and sms.sms_tracker_id:
                sms.sms_tracker_id.sudo().write(
                    {
                        "http_gateway_id": result["gateway_id"],
                        "http_gateway_message_id": result.get("gateway_message_id") or False,
                    }
                )
        return super()._handle_call_result_hook(results)
