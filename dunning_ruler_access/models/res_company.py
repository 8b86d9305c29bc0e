from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    dunning_block_notice_days = fields.Integer(
        string="Notice Before Blocking (days)",
        default=3,
        help="A customer is never blocked unless a dunning notice was sent at least this many days before.",
    )

    @api.constrains("dunning_block_notice_days")
    def _check_dunning_block_notice_days(self):
        if any(not 0 <= company.dunning_block_notice_days <= 90 for company in self):
            raise ValidationError(self.env._("The notice before blocking must be between 0 and 90 days."))
