from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    dunning_default_grade_id = fields.Many2one(
        "dunning.grade",
        string="Default Dunning Grade",
        help="Grade of customers who have none in this company.",
    )

    dunning_fee_booking = fields.Selection(
        [("invoice", "Separate invoice"), ("line", "Line on the customer's next invoice")],
        string="Dunning Fees Booked As",
        default="invoice",
        required=True,
        help="Separate invoice: a posted fee invoice per reminder. Line: the fees gather on a draft "
        "invoice of the customer, billed with their next invoice.",
    )

    # Like UISP's "postpone suspension": the customer's own promise, from the statement page.
    dunning_promise_max_days = fields.Integer(
        string="Promise to Pay: Days Ahead",
        default=7,
        help="A customer may promise to pay, on the statement page its reminders link to, by a date at "
        "most this many days ahead: no reminder or further action until then, and a restricted "
        "platform access is restored meanwhile. 0: customers cannot promise.",
    )
    dunning_promise_interval_days = fields.Integer(
        string="Promise to Pay: Once Every",
        default=30,
        help="Days after a promise before the customer may promise again.",
    )

    @api.constrains("dunning_promise_max_days", "dunning_promise_interval_days")
    def _check_dunning_promise_days(self):
        for company in self:
            if company.dunning_promise_max_days < 0 or company.dunning_promise_interval_days < 0:
                raise ValidationError(self.env._("The days of a promise to pay cannot be negative."))

    dunning_activity_user_id = fields.Many2one(
        "res.users",
        string="Default Dunning User",
        domain="[('share', '=', False), ('company_ids', 'in', id)]",
        help="Assigned the dunning activities of customers who have no responsible agent (neither "
        "their own nor their grade's) when the level names no assignee.",
    )

    @api.constrains("dunning_default_grade_id")
    def _check_dunning_default_grade(self):
        for company in self:
            grade = company.dunning_default_grade_id
            if grade and grade.company_id != company:
                raise ValidationError(
                    self.env._(
                        "The default dunning grade of %(company)s must belong to it.", company=company.name
                    )
                )
