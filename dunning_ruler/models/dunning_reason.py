from odoo import fields, models


class DunningReason(models.Model):
    """Why a customer does not pay: recorded by agents on calls and replies, reported by
    grade and level."""

    _name = "dunning.reason"
    _description = "Non-payment Reason"
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True)
    code = fields.Char()
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", index=True, help="Empty: shared by every company.")
    description = fields.Text(translate=True)
    event_count = fields.Integer(compute="_compute_event_count")

    _code_company_uniq = models.Constraint(
        "unique(code, company_id)", "A reason code must be unique per company."
    )

    def _compute_event_count(self):
        counts = dict(
            self.env["dunning.event"]._read_group([("reason_id", "in", self.ids)], ["reason_id"], ["__count"])
        )
        for reason in self:
            reason.event_count = counts.get(reason, 0)
