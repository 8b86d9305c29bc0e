from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    dunning_user_id = fields.Many2one(
        "res.users",
        string="Dunning Agent",
        company_dependent=True,
        tracking=True,
        help="Agent responsible for collecting this customer's overdue invoices. "
        "Empty: the grade's default agent, then the sales team leader.",
    )
    dunning_agent_id = fields.Many2one(
        "res.users", string="Responsible Agent", compute="_compute_dunning_agent"
    )
    dunning_handover_ids = fields.One2many("dunning.handover", "partner_id", string="Hand-overs")
    dunning_handover_id = fields.Many2one(
        "dunning.handover", string="Active Hand-over", compute="_compute_dunning_handover"
    )
    dunning_arrangement_ids = fields.One2many(
        "dunning.arrangement", "partner_id", string="Payment Arrangements"
    )

    @api.depends_context("company")
    @api.depends("dunning_user_id", "commercial_partner_id")
    def _compute_dunning_agent(self):
        for partner in self:
            partner.dunning_agent_id = partner.commercial_partner_id._dunning_default_agent()

    def _dunning_default_agent(self):
        """Responsible agent: the customer's own, else the grade's, else the sales team leader
        (when the sales team module is installed)."""
        self.ensure_one()
        agent = self.dunning_user_id or self.dunning_effective_grade_id.user_id
        if not agent and "team_id" in self._fields:
            agent = self.team_id.user_id
        return agent

    @api.depends("dunning_handover_ids.state")
    @api.depends_context("allowed_company_ids")
    def _compute_dunning_handover(self):
        handovers = self.env["dunning.handover"].search(
            [("partner_id", "in", self.commercial_partner_id.ids), ("state", "=", "active")],
            order="date desc, id desc",
        )
        for partner in self:
            partner.dunning_handover_id = handovers.filtered(
                lambda h, p=partner: h.partner_id == p.commercial_partner_id
            )[:1]

    def action_open_dunning_reason_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Log dunning contact"),
            "res_model": "dunning.reason.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self[:1].commercial_partner_id.id},
        }

    def action_open_dunning_arrangement(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Payment arrangement"),
            "res_model": "dunning.arrangement",
            "view_mode": "form",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    def _message_post_after_hook(self, message, msg_values):
        """A customer's email reply to a dunning reminder asks the responsible agent to
        record the reason for non-payment (Log contact)."""
        result = super()._message_post_after_hook(message, msg_values)
        parent_id = msg_values.get("parent_id")
        if msg_values.get("message_type") == "email" and parent_id and len(self) == 1:
            event = self.env["dunning.event"].sudo().search([("mail_message_id", "=", parent_id)], limit=1)
            if event:
                partner = self.sudo().with_company(event.company_id)
                user = event._dunning_activity_user()
                partner.activity_schedule(
                    activity_type_id=self.env.ref("dunning_ruler.mail_activity_type_dunning_call").id,
                    summary=self.env._("Customer replied to “%s”: log the reason", event.level_id.name),
                    note=self.env._("Use “Log contact” on the customer's Dunning tab to record the reason."),
                    user_id=user.id,
                    date_deadline=fields.Date.context_today(self),
                )
        return result
