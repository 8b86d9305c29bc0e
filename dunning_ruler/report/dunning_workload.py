from odoo import fields, models, tools
from odoo.tools import SQL


class DunningWorkload(models.Model):
    """Open dunning work per overdue customer and company, with its responsible agent:
    the supervisor groups it by agent and reassigns in bulk."""

    _name = "dunning.workload"
    _description = "Dunning Workload"
    _auto = False
    _order = "overdue_amount desc"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    agent_id = fields.Many2one("res.users", readonly=True)
    grade_id = fields.Many2one("dunning.grade", readonly=True)
    level_id = fields.Many2one("dunning.level", readonly=True)
    overdue_amount = fields.Monetary(string="Amount in Dunning", readonly=True)
    invoice_count = fields.Integer(string="Invoices in Dunning", readonly=True)
    activity_count = fields.Integer(string="Open Activities", readonly=True)
    handed_over = fields.Boolean(readonly=True)
    arranged = fields.Boolean(string="In Arrangement", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # Same default as res.partner._dunning_default_agent: own agent, grade's, sales team leader
        # (the latter only when sales_team is installed; upgrade this module after installing it).
        with_team = "team_id" in self.env["res.partner"]._fields
        team_join = SQL("LEFT JOIN crm_team t ON t.id = p.team_id") if with_team else SQL()
        team_agent = SQL("t.user_id") if with_team else SQL("NULL::int")
        # Every open installment that reached a level (no CURRENT_DATE: the engine's own
        # dates rule), built from the dunnable filter. Deliberately wider than it: an
        # invoice in dispute, handed over or arranged, a customer on hold is still work
        # for the agent (flagged, not hidden).
        lines = self.env["dunning.engine"]._dunnable_lines_sql(
            SQL(
                """
                MIN(aml.id) AS id,
                m.commercial_partner_id AS partner_id,
                aml.company_id,
                c.currency_id,
                COALESCE((p.dunning_user_id ->> aml.company_id::text)::int, g.user_id, %s) AS agent_id,
                g.id AS grade_id,
                p.dunning_level_id AS level_id,
                SUM(aml.amount_residual) AS overdue_amount,
                COUNT(DISTINCT aml.move_id) AS invoice_count,
                (SELECT COUNT(DISTINCT a.id)
                   FROM dunning_event e JOIN mail_activity a ON a.id = e.activity_id
                  WHERE e.partner_id = m.commercial_partner_id
                    AND e.company_id = aml.company_id) AS activity_count,
                BOOL_OR(m.dunning_handover_id IS NOT NULL) AS handed_over,
                BOOL_OR(m.dunning_arrangement_id IS NOT NULL) AS arranged
                """,
                team_agent,
            ),
            include_disputed=True,
            include_paused=True,
            include_held=True,
            include_undunned=True,
            joins=team_join,
            where=SQL("AND aml.dunning_level_id IS NOT NULL"),
            tail=SQL(
                """GROUP BY m.commercial_partner_id, aml.company_id, c.currency_id, p.dunning_user_id,
                         g.user_id, g.id, p.dunning_level_id, agent_id"""
            ),
        )
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), lines))

    def action_reassign(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reassign customers"),
            "res_model": "dunning.assign.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.partner_id.ids},
        }
