from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL


class ResPartner(models.Model):
    _inherit = "res.partner"

    dunning_grade_id = fields.Many2one(
        "dunning.grade",
        company_dependent=True,
        tracking=True,
        domain="[('company_id', '=', current_company_id)]",
        help="Empty: the company's default grade applies.",
    )
    dunning_effective_grade_id = fields.Many2one(
        "dunning.grade", string="Applied Grade", compute="_compute_dunning_effective_grade"
    )
    dunning_hold_until = fields.Date(
        string="Dunning On Hold Until",
        tracking=True,
        help="Promise to pay: no reminder or action is sent before this date.",
    )
    dunning_hold_note = fields.Char(string="Hold Note", tracking=True)
    dunning_overdue_amount = fields.Monetary(
        string="Overdue Amount",
        compute="_compute_dunning_overdue_amount",
        currency_field="dunning_currency_id",
    )
    dunning_currency_id = fields.Many2one("res.currency", compute="_compute_dunning_overdue_amount")
    dunning_level_id = fields.Many2one(
        "dunning.level",
        compute="_compute_dunning_level",
        store=True,
        index="btree_not_null",
        help="Highest level reached by the customer's open invoices.",
    )
    dunning_event_ids = fields.One2many("dunning.event", "partner_id", string="Dunning History")
    dunning_event_count = fields.Integer(compute="_compute_dunning_event_count")

    @api.depends_context("company")
    def _compute_dunning_effective_grade(self):
        default = self.env.company.dunning_default_grade_id
        for partner in self:
            partner.dunning_effective_grade_id = partner.commercial_partner_id.dunning_grade_id or default

    @api.depends_context("company", "allowed_company_ids")
    def _compute_dunning_overdue_amount(self):
        today = fields.Date.context_today(self)
        commercial = self.commercial_partner_id
        amounts = dict(
            self.env["account.move.line"]._read_group(
                [
                    ("partner_id", "in", commercial.ids),
                    ("display_type", "=", "payment_term"),
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "=", "out_invoice"),
                    ("reconciled", "=", False),
                    ("date_maturity", "<", today),
                    ("company_id", "in", self.env.companies.ids),
                ],
                ["partner_id"],
                ["amount_residual:sum"],
            )
        )
        currency = self.env.company.currency_id
        for partner in self:
            partner.dunning_overdue_amount = amounts.get(partner.commercial_partner_id, 0.0)
            partner.dunning_currency_id = currency

    @api.depends(
        "invoice_ids.dunning_level_id",
        "invoice_ids.payment_state",
        "invoice_ids.state",
    )
    def _compute_dunning_level(self):
        partners = self.filtered("id")
        (self - partners).dunning_level_id = False
        if not partners:
            return
        # Highest level (by offset) over open invoices of the commercial entity.
        self.env["account.move"].flush_model(
            ["dunning_level_id", "payment_state", "state", "commercial_partner_id"]
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (m.commercial_partner_id) m.commercial_partner_id, m.dunning_level_id
                  FROM account_move m
                  JOIN dunning_level lvl ON lvl.id = m.dunning_level_id
                 WHERE m.commercial_partner_id = ANY(%s)
                   AND m.state = 'posted'
                   AND m.payment_state IN ('not_paid', 'partial')
              ORDER BY m.commercial_partner_id, lvl.offset_days DESC
                """,
                partners.commercial_partner_id.ids,
            )
        )
        levels = dict(self.env.cr.fetchall())
        for partner in partners:
            partner.dunning_level_id = levels.get(partner.commercial_partner_id.id, False)

    def _compute_dunning_event_count(self):
        counts = dict(
            self.env["dunning.event"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.dunning_event_count = counts.get(partner.commercial_partner_id, 0)

    def action_view_dunning_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.event",
            "view_mode": "list,form",
            "domain": [("partner_id", "=", self.commercial_partner_id.id)],
            "context": {"search_default_group_by_level": 0},
            "name": self.env._("Dunning History"),
        }

    def _dunning_check_agent(self):
        if not self.env.su and not self.env.user.has_group("dunning_ruler.group_dunning_agent"):
            raise AccessError(self.env._("Only dunning agents can change the dunning of a customer."))

    def action_dunning_hold(self, hold_until, note=False):
        """Promise to pay: nothing is sent before ``hold_until`` (False lifts the hold).

        Agents may do this without the right to edit customers; it is traced in the
        chatter and as a dunning event."""
        self._dunning_check_agent()
        partners = self.commercial_partner_id.sudo()
        hold_until = fields.Date.to_date(hold_until)
        partners.write({"dunning_hold_until": hold_until, "dunning_hold_note": note})
        if hold_until:
            body = self.env._("Dunning on hold until %(date)s: %(note)s", date=hold_until, note=note or "-")
        else:
            body = self.env._("Dunning hold lifted.")
        today = fields.Date.context_today(self)
        self.env["dunning.event"].sudo().create(
            [
                {
                    "date": today,
                    "partner_id": partner.id,
                    "company_id": self.env.company.id,
                    "channel": "manual",
                    "state": "done",
                    "origin": "manual",
                    "currency_id": self.env.company.currency_id.id,
                    "amount_due": partner.dunning_overdue_amount,
                    "message": body,
                }
                for partner in partners
            ]
        )
        partners._message_log_batch(bodies={partner.id: body for partner in partners})
        return True

    def action_open_dunning_hold_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.hold.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_partner_ids": self.commercial_partner_id.ids,
                "default_hold_until": self[:1].commercial_partner_id.dunning_hold_until,
                "default_note": self[:1].commercial_partner_id.dunning_hold_note,
            },
            "name": self.env._("Dunning hold"),
        }
