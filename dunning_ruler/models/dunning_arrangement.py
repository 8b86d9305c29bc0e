from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..tools.i18n import Format, _lt, render, write_texts


class DunningArrangement(models.Model):
    """An agreed installment plan for some overdue invoices of a customer.

    While active (kept), the engine leaves these invoices alone. The daily check
    (``_check_arrangements``, run before each dunning run) closes kept plans once the
    invoices are paid and breaks a plan as soon as the amount paid falls behind the
    installments due: the invoices then climb the ladder again from where they stopped
    (their due dates are shifted by the days the plan paused them)."""

    _name = "dunning.arrangement"
    _description = "Payment Arrangement"
    _inherit = ("mail.thread", "dunning.technical.mixin")
    _order = "date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="restrict",
        domain="[('parent_id', '=', False)]",
        tracking=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    user_id = fields.Many2one("res.users", string="Agent", default=lambda self: self.env.user, tracking=True)
    date_start = fields.Date(
        string="Agreed On", required=True, default=fields.Date.context_today, tracking=True
    )
    date_end = fields.Date(string="Ended On", readonly=True, copy=False)
    invoice_ids = fields.Many2many(
        "account.move",
        "dunning_arrangement_account_move_rel",
        "arrangement_id",
        "move_id",
        string="Invoices",
        domain="[('commercial_partner_id', '=', partner_id), ('company_id', '=', company_id), "
        "('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('payment_state', 'in', ('not_paid', 'partial'))]",
    )
    line_ids = fields.One2many("dunning.arrangement.line", "arrangement_id", string="Installments", copy=True)
    amount_arranged = fields.Monetary(
        readonly=True,
        copy=False,
        help="Open amount of the invoices when the plan was agreed.",
    )
    amount_total = fields.Monetary(string="Installments Total", compute="_compute_amounts", store=True)
    amount_paid = fields.Monetary(string="Paid Since", compute="_compute_amount_paid")
    level_id = fields.Many2one(
        "dunning.level",
        string="Paused At Level",
        readonly=True,
        copy=False,
        help="Highest level reached when agreed.",
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Kept"),
            ("done", "Fulfilled"),
            ("broken", "Broken"),
            ("cancel", "Cancelled"),
        ],
        default="draft",
        required=True,
        index=True,
        tracking=True,
        copy=False,
    )
    broken_reason = fields.Char(readonly=True, copy=False, translate=True)  # every language: tools/i18n.py
    note = fields.Text()

    _LOCKED_FIELDS = frozenset({"partner_id", "company_id", "date_start", "invoice_ids", "line_ids"})
    # Set by confirming, cancelling and the daily check only: never by hand (RPC).
    _TECHNICAL_FIELDS = ("state", "amount_arranged", "level_id", "date_end", "broken_reason")

    @api.depends("partner_id", "date_start")
    def _compute_name(self):
        for plan in self:
            plan.name = f"{plan.partner_id.display_name or ''} ({plan.date_start or ''})"

    @api.depends("line_ids.amount")
    def _compute_amounts(self):
        for plan in self:
            plan.amount_total = sum(plan.line_ids.mapped("amount"))

    @api.depends("amount_arranged", "invoice_ids.amount_residual_signed")
    def _compute_amount_paid(self):
        for plan in self:
            if plan.state == "draft":
                plan.amount_paid = 0.0
            else:
                plan.amount_paid = plan.amount_arranged - sum(
                    plan.invoice_ids.mapped("amount_residual_signed")
                )

    @api.constrains("line_ids", "date_start")
    def _check_lines(self):
        for plan in self:
            if any(line.amount <= 0 for line in plan.line_ids):
                raise ValidationError(self.env._("Every installment needs a positive amount."))
            if any(line.date < plan.date_start for line in plan.line_ids):
                raise ValidationError(
                    self.env._("Installments cannot fall before the date the plan was agreed.")
                )

    @api.constrains("partner_id", "invoice_ids", "company_id")
    def _check_invoices(self):
        for plan in self:
            wrong = plan.invoice_ids.filtered(
                lambda m, p=plan: (
                    m.commercial_partner_id != p.partner_id.commercial_partner_id
                    or m.company_id != p.company_id
                    or m.move_type != "out_invoice"
                )
            )
            if wrong:
                raise ValidationError(
                    self.env._(
                        "Invoices %(invoices)s are not customer invoices of %(partner)s in %(company)s.",
                        invoices=", ".join(wrong.mapped("name")),
                        partner=plan.partner_id.display_name,
                        company=plan.company_id.name,
                    )
                )

    @api.onchange("partner_id", "company_id")
    def _onchange_partner_id(self):
        if self.partner_id and not self.invoice_ids and self.company_id:
            # The invoices dunning acts on (none in dispute, handed over or already
            # arranged) overdue when the plan is agreed, even if the customer is on
            # hold or never dunned; read with the agent's rights.
            engine = self.env["dunning.engine"]
            engine._flush_dunnable()
            self.env.cr.execute(
                engine._dunnable_lines_sql(
                    SQL("DISTINCT aml.move_id"),
                    company_ids=self.company_id.ids,
                    partner_ids=self.partner_id.commercial_partner_id.ids,
                    overdue_on=self.date_start or fields.Date.context_today(self),
                    include_held=True,
                    include_undunned=True,
                )
            )
            self.invoice_ids = self.env["account.move"].search(
                [("id", "in", [row[0] for row in self.env.cr.fetchall()])]
            )

    def write(self, vals):
        # An agreed plan is a record of what was agreed: only a new plan can change it.
        if (
            not self.env.su
            and self._LOCKED_FIELDS & set(vals)
            and self.filtered(lambda p: p.state != "draft")
        ):
            raise UserError(
                self.env._("An agreed payment arrangement cannot be changed: cancel it and record a new one.")
            )
        return super().write(vals)

    def _check_agent(self):
        self.env["dunning.engine"]._check_role(
            "agent", self.env._("Only dunning agents can manage payment arrangements.")
        )

    def action_confirm(self):
        """Agree the plan: its invoices leave the ladder while it is kept."""
        self._check_agent()
        for plan in self:
            if plan.state != "draft":
                raise UserError(self.env._("Only draft arrangements can be confirmed."))
            if not plan.invoice_ids or not plan.line_ids:
                raise UserError(self.env._("Choose the invoices and the installments of the arrangement."))
            busy = plan.invoice_ids.filtered(lambda m: m.dunning_arrangement_id or m.dunning_handover_id)
            if busy:
                raise UserError(
                    self.env._(
                        "Invoices %s are already in a payment arrangement or handed over.",
                        ", ".join(busy.mapped("name")),
                    )
                )
            if plan.invoice_ids.filtered(
                lambda m: m.payment_state not in ("not_paid", "partial") or m.state != "posted"
            ):
                raise UserError(self.env._("Only open posted invoices can be arranged."))
            owed = sum(plan.invoice_ids.mapped("amount_residual_signed"))
            if plan.currency_id.compare_amounts(plan.amount_total, owed) != 0:
                raise UserError(
                    self.env._(
                        "The installments total %(total)s but the invoices owe %(owed)s: they must match.",
                        total=plan.amount_total,
                        owed=owed,
                    )
                )
            levels = plan.invoice_ids.dunning_level_id.sorted("offset_days")
            plan.sudo().write({"state": "active", "amount_arranged": owed, "level_id": levels[-1:].id})
            plan.invoice_ids.sudo().write({"dunning_arrangement_id": plan.id})
            plan._log(
                self.env._(
                    "Payment arrangement agreed: %(count)s installment(s) totalling %(total)s; "
                    "dunning paused.",
                    count=len(plan.line_ids),
                    total=plan.amount_total,
                )
            )
        return True

    def action_cancel(self):
        self._check_agent()
        active = self.filtered(lambda p: p.state == "active")
        active._release(
            fields.Date.context_today(self), "cancel", self.env._("Payment arrangement cancelled.")
        )
        (self - active).filtered(lambda p: p.state == "draft").sudo().write({"state": "cancel"})
        return True

    def _release(self, as_of, state, message, reason=False):
        """End active plans: the invoices go back to the ladder, shifted by the days paused."""
        if not self:
            return
        moves = self.invoice_ids.filtered(lambda m: m.dunning_arrangement_id in self)
        self.env["account.move.line"].flush_model(["dunning_pause_days"])
        # One statement for every installment of every plan ended.
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_move_line aml
                   SET dunning_pause_days = COALESCE(aml.dunning_pause_days, 0) + v.days
                  FROM unnest(%s::int[], %s::int[]) AS v(move_id, days), account_move m
                 WHERE aml.move_id = v.move_id AND m.id = aml.move_id
                   AND aml.display_type = 'payment_term'
                """,
                moves.ids,
                [max((as_of - m.dunning_arrangement_id.date_start).days, 0) for m in moves],
            )
        )
        self.env["account.move.line"].invalidate_model(["dunning_pause_days"])
        moves.sudo().write({"dunning_arrangement_id": False})
        write_texts(self.sudo(), {"state": state, "date_end": as_of, "broken_reason": reason})
        for plan in self:
            plan._log(message if not reason else Format("%s %s", message, reason))

    def _log(self, body):
        """Trace on the plan, the customer and as a dunning event (``body`` may be a
        text in every language, tools/i18n.py: the chatter gets the current one)."""
        self.ensure_one()
        text = render(body, self.env.lang or "en_US")
        self.message_post(body=text, message_type="notification")
        self.partner_id._message_log(body=text)
        self.env["dunning.event"]._dunning_create_manual(
            [
                {
                    "date": self.date_end or fields.Date.context_today(self),
                    "partner_id": self.partner_id.id,
                    "company_id": self.company_id.id,
                    # ended by the daily check: the run's doing
                    "origin": "manual" if self.state in ("active", "cancel") else "run",
                    "invoice_ids": self.invoice_ids.ids,
                    "message": body,
                }
            ]
        )

    @api.model
    def _check_arrangements(self, as_of=None, company_ids=None):
        """Daily: close fulfilled plans, break those whose installments fell behind."""
        as_of = fields.Date.to_date(as_of) or fields.Date.context_today(self)
        domain = [("state", "=", "active")]
        if company_ids is not None:
            domain.append(("company_id", "in", list(company_ids)))
        plans = self.search(domain)
        if not plans:
            return
        # Open amounts per plan in one grouped query.
        residuals = dict(
            self.env["account.move"]._read_group(
                [("dunning_arrangement_id", "in", plans.ids)],
                ["dunning_arrangement_id"],
                ["amount_residual_signed:sum"],
            )
        )
        fulfilled, broken = self.browse(), {}
        for plan in plans:
            residual = residuals.get(plan, 0.0)
            currency = plan.currency_id
            if currency.is_zero(residual):
                fulfilled |= plan
                continue
            paid = plan.amount_arranged - residual
            missed = plan.line_ids.filtered(lambda line: line.date < as_of).sorted("date")
            due = sum(missed.mapped("amount"))
            if currency.compare_amounts(paid, due) < 0:
                # The first installment not covered by what was paid.
                running, first = 0.0, missed[-1:]
                for line in missed:
                    running += line.amount
                    if currency.compare_amounts(paid, running) < 0:
                        first = line
                        break
                broken[plan] = _lt(
                    "Installment of %(amount)s due on %(date)s missed (%(paid)s paid of %(due)s due).",
                    amount=first.amount,
                    date=first.date,
                    paid=currency.round(paid),
                    due=due,
                )
        # Texts in every language (tools/i18n.py): the daily check runs as the superuser.
        fulfilled._release(as_of, "done", _lt("Payment arrangement fulfilled."))
        for plan, reason in broken.items():
            plan._release(as_of, "broken", _lt("Payment arrangement broken: dunning resumes."), reason)
