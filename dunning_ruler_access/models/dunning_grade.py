from odoo import fields, models


class DunningGrade(models.Model):
    _inherit = "dunning.grade"

    exempt_from_restriction = fields.Boolean(
        help="Never restrict or block this customer's access, whatever the level."
    )
