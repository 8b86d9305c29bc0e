from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sms_http_gateway_id = fields.Many2one(
        related="company_id.sms_http_gateway_id",
        readonly=False,
        groups="base.group_system",
        domain="[('channel', '=', 'sms'), ('company_id', '=', company_id)]",
    )
    whatsapp_http_gateway_id = fields.Many2one(
        related="company_id.whatsapp_http_gateway_id",
        readonly=False,
        groups="base.group_system",
        domain="[('channel', '=', 'whatsapp'), ('company_id', '=', company_id)]",
    )
    dunning_sms_window_start = fields.Float(related="company_id.dunning_sms_window_start", readonly=False)
    dunning_sms_window_end = fields.Float(related="company_id.dunning_sms_window_end", readonly=False)
    dunning_sms_allow_sunday = fields.Boolean(related="company_id.dunning_sms_allow_sunday", readonly=False)
