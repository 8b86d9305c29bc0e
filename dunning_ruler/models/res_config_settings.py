from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    dunning_default_grade_id = fields.Many2one(
        related="company_id.dunning_default_grade_id",
        readonly=False,
        domain="[('company_id', '=', company_id)]",
    )

    dunning_fee_booking = fields.Selection(related="company_id.dunning_fee_booking", readonly=False)
