from odoo import fields, models


class DunningGrade(models.Model):
    _inherit = "dunning.grade"

    user_id = fields.Many2one(
        "res.users",
        string="Default Agent",
        domain=lambda self: [("group_ids", "in", self.env.ref("dunning_ruler.group_dunning_agent").id)],
        help="Responsible agent of the customers of this grade who have none of their own.",
    )
