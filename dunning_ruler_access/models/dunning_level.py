from odoo import fields, models


class DunningLevel(models.Model):
    _inherit = "dunning.level"

    action = fields.Selection(
        selection_add=[("restrict", "Restrict platform access"), ("block", "Block platform access")],
        ondelete={"restrict": "set default", "block": "set default"},
    )
