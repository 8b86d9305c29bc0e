from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    dunning_block_notice_days = fields.Integer(
        string="Notice Before Blocking (days)",
        default=3,
        help="A customer is never blocked unless a dunning notice was sent at least this many days before.",
    )
    dunning_access_call_retention_days = fields.Integer(
        string="Keep Platform Calls (days)",
        default=180,
        help="Finished platform calls older than this are removed by the scheduled check (0: kept forever). "
        "The customer's chatter keeps what the platform confirmed.",
    )

    @api.constrains("dunning_block_notice_days")
    def _check_dunning_block_notice_days(self):
        if any(not 0 <= company.dunning_block_notice_days <= 90 for company in self):
            raise ValidationError(self.env._("The notice before blocking must be between 0 and 90 days."))

    @api.constrains("dunning_access_call_retention_days")
    def _check_dunning_access_call_retention_days(self):
        if any(company.dunning_access_call_retention_days < 0 for company in self):
            raise ValidationError(self.env._("The retention of platform calls cannot be negative."))
