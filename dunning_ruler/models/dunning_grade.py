from odoo import api, fields, models
from odoo.exceptions import ValidationError


class DunningGrade(models.Model):
    """A class of customers (VIP, standard, high risk...) with its own ruler and leniency."""

    _name = "dunning.grade"
    _description = "Dunning Grade"
    _order = "company_id, sequence, name"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    ruler_id = fields.Many2one(
        "dunning.ruler",
        required=True,
        index=True,
        domain="[('company_id', '=', company_id)]",
    )
    grace_days = fields.Integer(
        default=0,
        help="Extra days granted before each overdue level (offset > 0). "
        "Reminders before and on the due date are not shifted.",
    )
    no_dunning = fields.Boolean(help="Customers of this grade are never dunned.")
    description = fields.Text(translate=True)

    _code_company_uniq = models.Constraint(
        "unique(code, company_id)", "A grade code must be unique per company."
    )

    user_id = fields.Many2one(
        "res.users",
        string="Default Agent",
        domain=lambda self: [("group_ids", "in", self.env.ref("dunning_ruler.group_dunning_agent").id)],
        help="Responsible agent of the customers of this grade who have none of their own.",
    )

    @api.constrains("ruler_id", "company_id")
    def _check_ruler_company(self):
        for grade in self:
            if grade.ruler_id.company_id != grade.company_id:
                raise ValidationError(
                    self.env._(
                        "Grade “%(grade)s” belongs to %(company)s but its ruler “%(ruler)s” "
                        "belongs to %(ruler_company)s.",
                        grade=grade.name,
                        company=grade.company_id.name,
                        ruler=grade.ruler_id.name,
                        ruler_company=grade.ruler_id.company_id.name,
                    )
                )

    @api.constrains("grace_days")
    def _check_grace_days(self):
        for grade in self:
            if not 0 <= grade.grace_days <= 365:
                raise ValidationError(self.env._("Grace days must be between 0 and 365."))
