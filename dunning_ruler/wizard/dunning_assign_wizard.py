from odoo import fields, models


class DunningAssignWizard(models.TransientModel):
    """Supervisor: give some customers (and their open dunning activities) to another agent."""

    _name = "dunning.assign.wizard"
    _description = "Reassign Dunning Customers"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    user_id = fields.Many2one(
        "res.users",
        string="New Agent",
        required=True,
        domain=lambda self: [("group_ids", "in", self.env.ref("dunning_ruler.group_dunning_agent").id)],
    )
    move_activities = fields.Boolean(string="Reassign Open Activities", default=True)

    def action_assign(self):
        self.ensure_one()
        self.env["dunning.engine"]._check_role(
            "supervisor", self.env._("Only dunning supervisors can reassign customers.")
        )
        partners = self.partner_ids.commercial_partner_id.sudo()
        # Company-dependent: the assignment holds in the current company.
        partners.with_company(self.env.company).write({"dunning_user_id": self.user_id.id})
        if self.move_activities:
            activities = (
                self.env["mail.activity"]
                .sudo()
                .search(
                    [
                        ("res_model", "=", "res.partner"),
                        ("res_id", "in", partners.ids),
                        (
                            "id",
                            "in",
                            self.env["dunning.event"]
                            .sudo()
                            .search(
                                [
                                    ("partner_id", "in", partners.ids),
                                    ("activity_id", "!=", False),
                                    ("company_id", "=", self.env.company.id),
                                ]
                            )
                            .activity_id.ids,
                        ),
                    ]
                )
            )
            activities.write({"user_id": self.user_id.id})
        partners._message_log_batch(
            bodies={
                p.id: self.env._(
                    "Dunning agent: %(user)s (by %(by)s).", user=self.user_id.name, by=self.env.user.name
                )
                for p in partners
            }
        )
        return {"type": "ir.actions.act_window_close"}
