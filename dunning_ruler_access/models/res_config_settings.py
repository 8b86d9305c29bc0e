from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    dunning_block_notice_days = fields.Integer(related="company_id.dunning_block_notice_days", readonly=False)
    dunning_access_call_retention_days = fields.Integer(
        related="company_id.dunning_access_call_retention_days", readonly=False
    )
