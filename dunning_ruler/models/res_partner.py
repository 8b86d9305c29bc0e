import uuid
from collections import defaultdict
from datetime import timedelta

from werkzeug.urls import url_encode

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq

from ..tools.bulk import bulk_fill_tokens
from .dunning_engine import PlanStep


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
    # Per company, like the grade: a promise made to one company pauses its dunning only.
    dunning_hold_until = fields.Date(
        string="Dunning On Hold Until",
        company_dependent=True,
        tracking=True,
        help="Promise to pay: no reminder or action is sent in this company before this date.",
    )
    dunning_hold_note = fields.Char(string="Hold Note", company_dependent=True, tracking=True)
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
    # The key of the customer's statement page (/my/dunning/<id>), which its reminders
    # link to: read by dunning itself (superuser) only, renewed on demand.
    dunning_statement_token = fields.Char(copy=False, groups="base.group_system")

    @api.depends_context("company")
    def _compute_dunning_effective_grade(self):
        default = self.env.company.dunning_default_grade_id
        for partner in self:
            partner.dunning_effective_grade_id = partner.commercial_partner_id.dunning_grade_id or default

    @api.depends_context("company", "allowed_company_ids")
    def _compute_dunning_overdue_amount(self):
        """What the customer owes past the due dates in the current companies.

        Deliberately wider than the dunnable installments (``dunning.engine.
        _dunnable_lines_sql``, built from the same pieces): invoices in dispute,
        handed over or under an arrangement, customers on hold or never dunned still
        owe it. Read with the user's rights on the journal items."""
        today = fields.Date.context_today(self)
        commercial = self.commercial_partner_id
        amounts = {}
        if commercial.ids:
            engine = self.env["dunning.engine"]
            visible = self.env["account.move.line"]._search([("partner_id", "in", commercial.ids)])
            engine._flush_dunnable()
            self.env.cr.execute(
                engine._dunnable_lines_sql(
                    SQL("m.commercial_partner_id, SUM(aml.amount_residual)"),
                    company_ids=self.env.companies.ids,
                    partner_ids=commercial.ids,
                    overdue_on=today,
                    include_disputed=True,
                    include_paused=True,
                    include_held=True,
                    include_undunned=True,
                    where=SQL("AND aml.id IN %s", visible.subselect()),
                    tail=SQL("GROUP BY m.commercial_partner_id"),
                )
            )
            amounts = dict(self.env.cr.fetchall())
        currency = self.env.company.currency_id
        for partner in self:
            partner.dunning_overdue_amount = amounts.get(partner.commercial_partner_id.id, 0.0)
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
        self.env["dunning.engine"]._check_role(
            "agent", self.env._("Only dunning agents can change the dunning of a customer.")
        )

    def action_dunning_hold(self, hold_until, note=False):
        """Promise to pay: nothing is sent in the current company before
        ``hold_until`` (False lifts the hold); other companies dun as before.

        Agents may do this without the right to edit customers; it is traced in the
        chatter and as a dunning event."""
        self._dunning_check_agent()
        return self._dunning_set_hold(self.env.company, hold_until, note)

    def _dunning_set_hold(self, company, hold_until, note=False, body=None, event_vals=None):
        """Hold the customers in ``company`` until ``hold_until`` (False lifts it),
        traced in the chatter and as a dunning event (``body``, ``event_vals``)."""
        partners = self.commercial_partner_id.sudo().with_company(company)
        hold_until = fields.Date.to_date(hold_until)
        partners.write({"dunning_hold_until": hold_until, "dunning_hold_note": note})
        if not body and hold_until:
            body = self.env._("Dunning on hold until %(date)s: %(note)s", date=hold_until, note=note or "-")
        elif not body:
            body = self.env._("Dunning hold lifted.")
        self.env["dunning.event"]._dunning_create_manual(
            [
                {"partner_id": partner.id, "company_id": company.id, "message": body, **(event_vals or {})}
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

    @api.model
    def _dunning_next_steps(self, partners, as_of):
        """PlanSteps bringing each customer's open installments to their next level.

        The next level of a customer in a company is the first level of its ruler
        (``dunning.engine._ladders``) above the highest level its dunnable
        installments reached. A person may bring it forward (that is what it is
        for), but never to an installment a run would leave alone on ``as_of``: on
        hold, in dispute, handed over, under a payment arrangement, of a grade
        without dunning (``dunning.engine._dunnable_lines_sql``); and an overdue level
        never to an installment not due yet or still within its grade's grace days
        (``dunning.engine._may_bring_forward``). One SQL query for all.
        """
        partners = partners.commercial_partner_id
        if not partners:
            return []
        engine = self.env["dunning.engine"]
        company_ids = self.env.companies.ids
        ladders = engine._ladders(company_ids)
        if not ladders:
            return []
        # Every dunnable installment, whatever its due date: a reminder before the due
        # date may be brought forward too.
        self.env.cr.execute(engine._open_lines_query(as_of, company_ids, partners.ids, None))
        by_customer = defaultdict(list)
        for row in self.env.cr.fetchall():
            by_customer[row[3], row[2]].append(row)
        steps = []
        for (partner_id, company_id), rows in by_customer.items():
            grade_id = rows[0][4]
            ladder = ladders.get((grade_id, company_id))
            if not ladder:
                continue
            reached = max((row[6] for row in rows if row[6] is not None), default=None)
            index = engine._next_index(ladder, reached)
            if index is None:
                continue
            ruler_id, level_ids, offsets, _shifts = ladder
            step = PlanStep(partner_id, company_id, grade_id, ruler_id, level_ids[index], offsets[index])
            for line_id, move_id, _company, _partner, _grade, days, line_reached in rows:
                if line_reached is not None and line_reached >= offsets[index]:
                    continue
                if not engine._may_bring_forward(ladder, index, days):
                    continue
                step.line_ids.append(line_id)
                if move_id not in step.move_ids:
                    step.move_ids.append(move_id)
            if step.line_ids:
                steps.append(step)
        return steps

    @api.model
    def _dunning_next_step_warnings(self, steps, as_of):
        """{customer id: [text]}: what changes what the next level of ``steps``
        (``_dunning_next_steps``) will do, said before a person sends it. Here the
        invoices the run's one definition sets aside (``dunning.engine.
        _dunnable_lines_sql``): in dispute, handed over, under a payment arrangement,
        left out of the step. Addons add their guards (``dunning_ruler_access``:
        exempt grade, notice before a block), from the decision the run takes, never a
        copy of it. One query."""
        warnings = defaultdict(list)
        if not steps:
            return warnings
        engine = self.env["dunning.engine"]
        engine._flush_dunnable()
        self.env.cr.execute(
            engine._dunnable_lines_sql(
                SQL(
                    """DISTINCT m.commercial_partner_id, m.id, m.name, m.dunning_excluded,
                       m.dunning_handover_id IS NOT NULL, m.dunning_arrangement_id IS NOT NULL"""
                ),
                as_of=as_of,
                company_ids=list({s.company_id for s in steps}),
                partner_ids=list({s.partner_id for s in steps}),
                include_disputed=True,
                include_paused=True,
                where=SQL(
                    """AND (m.dunning_excluded OR m.dunning_handover_id IS NOT NULL
                            OR m.dunning_arrangement_id IS NOT NULL)"""
                ),
                tail=SQL("ORDER BY m.name"),
            )
        )
        for partner_id, _move_id, name, disputed, handed_over, _arranged in self.env.cr.fetchall():
            if disputed:
                text = self.env._("%s is in dispute: not included, and no further escalation.", name)
            elif handed_over:
                text = self.env._("%s is handed over to a collection agency: not included.", name)
            else:
                text = self.env._("%s is under a payment arrangement: not included.", name)
            warnings[partner_id].append(text)
        return warnings

    def _dunning_lock_for_manual(self):
        """Same advisory locks as the runs: a manual step never races a run on a customer.
        Steps are planned after locking, so what a run just did is taken into account."""
        partner_ids = self.commercial_partner_id.ids
        locked = self.env["dunning.engine"]._lock_partners(partner_ids)
        if len(locked) < len(partner_ids):
            busy = self.browse(set(partner_ids) - set(locked))
            raise UserError(
                self.env._(
                    "A dunning run is processing %s right now: try again in a moment.",
                    ", ".join(busy.mapped("display_name")),
                )
            )

    def _dunning_manual_event_vals(self, partner, body, step):
        """Values of the manual event of ``step`` (for ``dunning.event._dunning_create_manual``)."""
        return {
            "partner_id": partner.id,
            "company_id": step.company_id,
            "message": body,
            "ruler_id": step.ruler_id,
            "grade_id": step.grade_id,
            "level_id": step.level_id,
            "invoice_ids": list(step.move_ids),
            "line_ids": list(step.line_ids),
        }

    def action_dunning_send_next_level(self):
        """Execute the customers' next level today, through its channels."""
        self._dunning_check_agent()
        today = fields.Date.context_today(self)
        self._dunning_lock_for_manual()
        steps = self._dunning_next_steps(self, today)
        if not steps:
            raise UserError(self.env._("There is no next dunning level to send for these customers."))
        engine = self.env["dunning.engine"]
        events = engine._execute(steps, today, origin="manual")
        partners = self.browse({s.partner_id for s in steps}).sudo()
        levels = self.env["dunning.level"].browse({s.level_id for s in steps})
        names = defaultdict(list)
        for step in steps:
            names[step.partner_id].append(levels.browse(step.level_id).name)
        bodies = {
            partner.id: self.env._(
                "Dunning: level “%(level)s” sent manually by %(user)s.",
                level=", ".join(names[partner.id]),
                user=self.env.user.name,
            )
            for partner in partners
        }
        partners._message_log_batch(bodies=bodies)
        return events

    def action_dunning_skip_level(self):
        """Mark the customers' next level as reached without sending anything."""
        self._dunning_check_agent()
        today = fields.Date.context_today(self)
        self._dunning_lock_for_manual()
        steps = self._dunning_next_steps(self, today)
        if not steps:
            raise UserError(self.env._("There is no next dunning level to skip for these customers."))
        engine = self.env["dunning.engine"]
        partners = self.browse({s.partner_id for s in steps}).sudo()
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
        vals_list, bodies = [], {}
        for step in steps:
            partner = partners.browse(step.partner_id)
            body = self.env._(
                "Dunning: level “%(level)s” skipped manually by %(user)s, nothing sent.",
                level=levels.browse(step.level_id).name,
                user=self.env.user.name,
            )
            vals = self._dunning_manual_event_vals(partner, body, step)
            # Skipped, not done: nothing was sent, and analytics must not count it.
            vals["state"] = "skipped"
            vals_list.append(vals)
            bodies[partner.id] = body
        events = self.env["dunning.event"]._dunning_create_manual(vals_list)
        engine._mark_reached(steps, today)
        partners._message_log_batch(bodies=bodies)
        return events

    def action_open_dunning_manual_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Next dunning level"),
            "res_model": "dunning.manual.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.commercial_partner_id.ids},
        }

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
                # Read by the agent it is assigned to: in their language.
                as_user = event.with_context(lang=user.lang or self.env.lang)
                partner.activity_schedule(
                    activity_type_id=self.env.ref("dunning_ruler.mail_activity_type_dunning_call").id,
                    summary=as_user.env._("Customer replied to “%s”: log the reason", as_user.level_id.name),
                    note=as_user.env._(
                        "Use “Log contact” on the customer's Dunning tab to record the reason."
                    ),
                    user_id=user.id,
                    date_deadline=fields.Date.context_today(self),
                )
        return result

    def _dunning_portal_values(self, moves, today):
        """What the customer sees on /my/dunning: overdue invoices (read with the
        customer's own rights by the caller), totals per currency, current level and
        the next step with its date.

        The next step is what the runs will do (``dunning.engine``: the dunnable
        installments, the ladders of their grades with their grace days, the levels
        already reached, the hold in each company), not a copy of their rules."""
        self.ensure_one()
        commercial = self.commercial_partner_id.sudo()
        overdue = moves.filtered(lambda m: m.invoice_date_due and m.invoice_date_due < today)
        totals = defaultdict(float)
        for move in moves:
            totals[move.currency_id] += move.amount_residual
        overdue_totals = defaultdict(float)
        for move in overdue:
            overdue_totals[move.currency_id] += move.amount_residual
        level = commercial.dunning_level_id
        next_level, next_date, hold_until = self._dunning_next_run_step(
            commercial, (moves.company_id or self.env.company).ids, today
        )
        return {
            "dunning_partner": commercial,
            "overdue_invoices": overdue,
            "open_invoices": moves,
            "total_owed": sorted(totals.items(), key=lambda i: i[0].name),
            "total_overdue": sorted(overdue_totals.items(), key=lambda i: i[0].name),
            "dunning_level": level,
            "next_level": next_level,
            "next_date": next_date,
            "hold_until": hold_until,
            # An amount is never shown without its currency, 0 included.
            "dunning_currency": (moves.company_id[:1] or self.env.company).currency_id,
            "dunning_notices": commercial._dunning_portal_notices((moves.company_id or self.env.company).ids),
        }

    @api.model
    def _dunning_next_run_step(self, commercial, company_ids, today):
        """(level, date, hold) of the next level the runs will execute for customer
        ``commercial`` in ``company_ids``, from ``today`` on: the highest level due
        today, else the earliest one to come, pushed to the end of the customer's hold
        in its company. ``hold``: the end of the customer's hold in the company of that
        step (with no step: when every company holds the customer), else False."""
        engine = self.env["dunning.engine"].sudo()
        ladders = engine._ladders(company_ids)
        holds = {}
        for company_id in company_ids:
            hold = commercial.with_company(company_id).dunning_hold_until
            if hold and hold > today:
                holds[company_id] = hold
        # The customer's hold is not a filter here: it only postpones the step.
        self.env.cr.execute(
            engine._open_lines_query(today, company_ids, commercial.ids, None, include_held=True)
        )
        best = None  # (date, -offset, level id, company)
        for _line, _move, company_id, _partner, grade_id, days, reached in self.env.cr.fetchall():
            ladder = ladders.get((grade_id, company_id))
            if not ladder:
                continue
            due = engine._due_levels(ladder, days, reached)
            if due:
                # Like a run: of the levels due, only the highest communicates.
                date, level_id, offset = today, due[1][-1], due[2][-1]
            else:
                index = engine._next_index(ladder, reached)
                if index is None:
                    continue
                _ruler, level_ids, offsets, shifts = ladder
                date = today + timedelta(days=shifts[index] - days)
                level_id, offset = level_ids[index], offsets[index]
            date = max(date, holds.get(company_id, date))
            candidate = (date, -offset, level_id, company_id)
            if best is None or candidate < best:
                best = candidate
        if best is None:
            hold = min(holds.values()) if holds and len(holds) == len(company_ids) else False
            return self.env["dunning.level"].sudo(), False, hold
        date, _offset, level_id, company_id = best
        return self.env["dunning.level"].sudo().browse(level_id), date, holds.get(company_id, False)

    # ------------------------------------------------------------------
    # The statement page (/my/dunning/<id>?access_token=…): works from a reminder
    # alone, the token authenticates the customer (controllers/statement.py).
    # ------------------------------------------------------------------
    @api.model
    def _dunning_set_statement_tokens(self, partners):
        """Give the customers ``partners`` their statement token in one statement."""
        bulk_fill_tokens(partners.commercial_partner_id.sudo(), "dunning_statement_token")

    def _dunning_statement_url(self, company=None, absolute=True):
        """Link to the customer's statement page, in ``company`` (every company: none)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        if not partner.dunning_statement_token:
            self._dunning_set_statement_tokens(partner)
        query = {"access_token": partner.dunning_statement_token}
        if company:
            query["company_id"] = company.id
        url = f"/my/dunning/{partner.id}?{url_encode(query)}"
        return partner.get_base_url() + url if absolute else url

    @api.model
    def _dunning_statement_partner(self, partner_id, access_token):
        """The customer whose statement ``access_token`` opens (as superuser), else an
        empty recordset: an unknown customer and a wrong token look the same."""
        partner = self.sudo().browse(partner_id).exists()
        if (
            not partner
            or partner != partner.commercial_partner_id
            or not access_token
            or not isinstance(access_token, str)
            or not partner.dunning_statement_token
            or not consteq(partner.dunning_statement_token, access_token)
        ):
            return self.sudo().browse()
        return partner

    def action_dunning_rotate_statement_token(self):
        """A new link to the statement page: the links of earlier reminders stop working."""
        self.env["dunning.engine"]._check_role(
            "supervisor", self.env._("Only dunning supervisors can renew a customer's statement link.")
        )
        partners = self.commercial_partner_id.sudo()
        for partner in partners:
            partner.dunning_statement_token = str(uuid.uuid4())
        body = self.env._(
            "Statement link renewed by %s: the links in earlier reminders no longer work.", self.env.user.name
        )
        partners._message_log_batch(bodies=dict.fromkeys(partners.ids, body))
        return True

    def _dunning_statement_moves(self, company=None):
        """The customer's open invoices the statement lists (as superuser)."""
        self.ensure_one()
        domain = [
            ("state", "=", "posted"),
            ("move_type", "=", "out_invoice"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("commercial_partner_id", "=", self.commercial_partner_id.id),
        ]
        if company:
            domain.append(("company_id", "=", company.id))
        return self.env["account.move"].sudo().search(domain, order="invoice_date_due, id")

    def _dunning_statement_payable(self, company, currency=None, today=None):
        """The overdue invoices "Pay all overdue" pays in ``company`` and ``currency``
        (any currency: None): those in dispute are left out."""
        today = today or fields.Date.context_today(self)
        return self._dunning_statement_moves(company).filtered(
            lambda m: (
                (not currency or m.currency_id == currency)
                and not m.dunning_excluded
                and m.invoice_date_due
                and m.invoice_date_due < today
            )
        )

    def _dunning_statement_values(self, company=None):
        """What the statement page shows: the customer portal's account status
        (``_dunning_portal_values``), each invoice's own pay link, "Pay all overdue"
        per company and currency, and the promise to pay."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        today = fields.Date.context_today(partner)
        moves = partner._dunning_statement_moves(company)
        self.env["dunning.event"]._dunning_set_access_tokens(moves)
        values = partner._dunning_portal_values(moves, today)
        groups = defaultdict(float)
        for move in values["overdue_invoices"]:
            if not move.dunning_excluded:
                groups[move.company_id, move.currency_id] += move.amount_residual
        token = partner.dunning_statement_token
        values["pay_all"] = [
            {
                "company": group_company,
                "currency": currency,
                "amount": amount,
                "url": f"/my/dunning/{partner.id}/pay?"
                + url_encode(
                    {"access_token": token, "company_id": group_company.id, "currency_id": currency.id}
                ),
            }
            for (group_company, currency), amount in sorted(
                groups.items(), key=lambda g: (g[0][0].id, g[0][1].name)
            )
        ]
        promise_company = partner._dunning_promise_company(company, moves)
        values.update(
            {
                "statement_company": company,
                "statement_url": partner._dunning_statement_url(company, absolute=False),
                "promise_company": promise_company,
                "promise_max_date": False,
                "promise_refused": False,
            }
        )
        if promise_company and values["overdue_invoices"].filtered(lambda m: m.company_id == promise_company):
            max_date, refused = partner._dunning_promise_limits(promise_company, today)
            values.update(promise_max_date=max_date, promise_min_date=today + timedelta(days=1))
            values["promise_refused"] = refused
        return values

    def _dunning_promise_company(self, company=None, moves=None):
        """The company a promise is made to: the page's, else the only one owed (in
        ``moves``, the statement's invoices in every company), else None."""
        if company:
            return company
        companies = (self._dunning_statement_moves() if moves is None else moves).company_id
        return companies if len(companies) == 1 else None

    def _dunning_promise_limits(self, company, today):
        """(latest date the customer may promise in ``company``, why it may not promise
        now or False)."""
        self.ensure_one()
        max_days = company.dunning_promise_max_days
        if max_days <= 0:
            return False, self.env._("Promises to pay are not accepted online: please contact us.")
        last = (
            self.env["dunning.event"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self.commercial_partner_id.id),
                    ("company_id", "=", company.id),
                    ("origin", "=", "portal"),
                ],
                order="date desc, id desc",
                limit=1,
            )
        )
        interval = company.dunning_promise_interval_days
        if last and interval and last.date + timedelta(days=interval) > today:
            return today + timedelta(days=max_days), self.env._(
                "You already promised to pay on %(date)s: a new promise is possible from %(next)s.",
                date=last.date,
                next=last.date + timedelta(days=interval),
            )
        return today + timedelta(days=max_days), False

    def _dunning_promise_to_pay(self, company, promised):
        """The customer promises, on its statement page, to pay by ``promised``: no
        reminder nor further action in ``company`` until the day after it, a restricted
        access is restored meanwhile (``_dunning_promise_granted``), its agent gets a
        to-do. Everything resumes by itself when the date passes unpaid. Raises
        UserError (nothing changed) when the date is not acceptable."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo().with_company(company)
        today = fields.Date.context_today(partner)
        try:
            promised = fields.Date.to_date(promised)
        except ValueError:
            promised = None
        if not promised:
            raise UserError(self.env._("Please choose the date by which you will pay."))
        max_date, refused = partner._dunning_promise_limits(company, today)
        if refused:
            raise UserError(refused)
        if promised <= today:
            raise UserError(self.env._("Please choose a date after today."))
        if promised > max_date:
            raise UserError(
                self.env._("Please choose a date no later than %s.", fields.Date.to_string(max_date))
            )
        if not partner._dunning_statement_payable(company, today=today):
            raise UserError(self.env._("Nothing is overdue: there is nothing to promise."))
        body = self.env._(
            "The customer promised, on its statement page, to pay by %(date)s: no reminder nor further "
            "action before %(resume)s.",
            date=promised,
            resume=promised + timedelta(days=1),
        )
        partner._dunning_set_hold(
            company,
            promised + timedelta(days=1),
            note=self.env._("Promised to pay by %s", promised),
            body=body,
            event_vals={"origin": "portal", "user_id": False},
        )
        partner._dunning_promise_granted(company, promised)
        agent = partner._dunning_promise_agent(company)
        if agent:
            partner.with_company(company).activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=promised + timedelta(days=1),
                summary=self.env._("Promise to pay by %s: check the payment", promised),
                note=body,
                user_id=agent.id,
            )
        return True

    def _dunning_promise_granted(self, company, until):
        """Extension point: what else a promise to pay by ``until`` grants the customer
        in ``company`` (dunning_ruler_access: the provisional unblock)."""
        return True

    def _dunning_responsible_user(self, company, preferred=None, fallback=None):
        """The internal user who answers for this customer's dunning in ``company``:
        its responsible agent (its own, else its grade's), else ``preferred`` (e.g. a
        level's assignee), its salesperson, the company's default dunning user, then
        ``fallback``. Never the superuser (OdooBot, who runs the scheduled action),
        a portal or an archived user: empty when nobody fits. Who gets the
        activities of the levels, of a promise to pay and of a reply."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo().with_company(company)
        candidates = (
            partner._dunning_default_agent(),
            preferred,
            partner.user_id,
            company.sudo().dunning_activity_user_id,
            fallback,
        )
        for user in candidates:
            if user and user.active and not user.share and not user._is_superuser():
                return user
        return self.env["res.users"]

    def _dunning_promise_agent(self, company):
        """Who is told of a customer's promise: its responsible user
        (``_dunning_responsible_user``), else a dunning supervisor of the company;
        never the superuser."""
        self.ensure_one()
        return self._dunning_responsible_user(company) or (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("all_group_ids", "in", self.env.ref("dunning_ruler.group_dunning_supervisor").ids),
                    ("company_ids", "in", company.ids),
                    ("share", "=", False),
                    ("id", "!=", SUPERUSER_ID),
                ],
                order="id",
                limit=1,
            )
        )

    def _dunning_portal_notices(self, company_ids):
        """Extension point: notices the customer's account status pages show, as dicts
        ``key``, ``state``, ``severity`` (success, warning, danger), ``title``, ``text``.
        Only what applies to the customer: nothing is shown otherwise."""
        return []
