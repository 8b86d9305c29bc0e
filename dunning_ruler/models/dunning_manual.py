"""Manual dunning actions of the accountant: send the next level now, skip a level,
put an invoice in dispute and clear it. Each one is traced in the chatter and as a
dunning event of origin ``manual``."""

from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .dunning_engine import PlanStep


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _dunning_next_steps(self, partners, as_of):
        """PlanSteps bringing each customer's open installments to their next level.

        The next level of a customer is the first level of its ruler above the highest
        level its open installments reached. It applies to the installments below it:
        for an overdue level (offset >= 0) only to those already due, so an overdue
        notice never lists an invoice that is not due yet. One SQL query for all.
        """
        partners = partners.commercial_partner_id
        if not partners:
            return []
        self.env.flush_all()
        company_ids = self.env.companies.ids
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.id AS line_id, aml.move_id, aml.company_id, aml.date_maturity,
                       m.commercial_partner_id AS partner_id,
                       g.id AS grade_id, g.ruler_id, COALESCE(cur.offset_days, -100000) AS current_offset
                  FROM account_move_line aml
                  JOIN account_move m ON m.id = aml.move_id
                  JOIN res_partner p ON p.id = m.commercial_partner_id
                  JOIN res_company c ON c.id = aml.company_id
                  JOIN dunning_grade g
                    ON g.id = COALESCE((p.dunning_grade_id ->> aml.company_id::text)::int,
                                       c.dunning_default_grade_id)
                  JOIN dunning_ruler r ON r.id = g.ruler_id AND r.active
                                      AND g.active AND g.no_dunning IS NOT TRUE
                                      AND g.company_id = aml.company_id
             LEFT JOIN dunning_level cur ON cur.id = aml.dunning_level_id
                 WHERE aml.display_type = 'payment_term'
                   AND aml.parent_state = 'posted'
                   AND m.move_type = 'out_invoice'
                   AND aml.reconciled IS NOT TRUE
                   AND aml.amount_residual > 0
                   AND aml.date_maturity IS NOT NULL
                   AND m.dunning_excluded IS NOT TRUE
                   AND aml.company_id = ANY(%s)
                   AND m.commercial_partner_id = ANY(%s)
              ORDER BY aml.date_maturity, aml.id
                """,
                company_ids,
                partners.ids,
            )
        )
        rows = self.env.cr.dictfetchall()
        if not rows:
            return []
        levels = (
            self.env["dunning.level"].sudo().search([("ruler_id", "in", list({r["ruler_id"] for r in rows}))])
        )
        ladder = defaultdict(list)
        for level in levels.sorted("offset_days"):
            ladder[level.ruler_id.id].append(level)
        steps = {}
        by_customer = defaultdict(list)
        for row in rows:
            by_customer[(row["partner_id"], row["company_id"])].append(row)
        for (partner_id, company_id), customer_rows in by_customer.items():
            ruler_id = customer_rows[0]["ruler_id"]
            reached = max(r["current_offset"] for r in customer_rows)
            level = next((lvl for lvl in ladder[ruler_id] if lvl.offset_days > reached), None)
            if level is None:
                continue
            for row in customer_rows:
                if row["current_offset"] >= level.offset_days:
                    continue
                if level.offset_days >= 0 and row["date_maturity"] > as_of:
                    continue
                step = steps.setdefault(
                    (partner_id, level.id),
                    PlanStep(
                        partner_id=partner_id,
                        company_id=company_id,
                        grade_id=row["grade_id"],
                        ruler_id=ruler_id,
                        level_id=level.id,
                        offset_days=level.offset_days,
                    ),
                )
                step.line_ids.append(row["line_id"])
                if row["move_id"] not in step.move_ids:
                    step.move_ids.append(row["move_id"])
        return list(steps.values())

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
        lines = self.env["account.move.line"].sudo().browse(step.line_ids)
        return {
            "date": fields.Date.context_today(self),
            "partner_id": partner.id,
            "company_id": step.company_id,
            "channel": "manual",
            "state": "done",
            "origin": "manual",
            "currency_id": self.env.company.currency_id.id,
            "amount_due": sum(lines.mapped("amount_residual")),
            "message": body,
            "ruler_id": step.ruler_id,
            "grade_id": step.grade_id,
            "level_id": step.level_id,
            "invoice_ids": [fields.Command.set(step.move_ids)],
            "line_ids": [fields.Command.set(step.line_ids)],
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
        events = self.env["dunning.event"].sudo().create(vals_list)
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


class AccountMove(models.Model):
    _inherit = "account.move"

    def _dunning_check_disputable(self):
        self.env["res.partner"]._dunning_check_agent()
        wrong = self.filtered(lambda m: m.move_type != "out_invoice" or m.state != "posted")
        if wrong:
            raise UserError(
                self.env._(
                    "Only posted customer invoices can be put in or out of dispute: %s",
                    ", ".join(wrong.mapped("display_name")),
                )
            )

    def action_dunning_dispute(self, reason):
        """Exclude the invoices from dunning until the dispute is cleared."""
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Give the reason of the dispute."))
        self._dunning_check_disputable()
        moves = self.sudo()
        moves.write({"dunning_excluded": True, "dunning_exclusion_reason": reason})
        body = self.env._("Dunning: invoice in dispute: %s", reason)
        moves._dunning_log_manual(body)
        return True

    def action_dunning_clear_dispute(self):
        """Dunning resumes at the next run, from the level the invoice had reached."""
        self._dunning_check_disputable()
        moves = self.sudo().filtered("dunning_excluded")
        if not moves:
            return True
        moves.write({"dunning_excluded": False, "dunning_exclusion_reason": False})
        moves._dunning_log_manual(self.env._("Dunning: dispute cleared, dunning resumes."))
        return True

    def _dunning_log_manual(self, body):
        self._message_log_batch(bodies={move.id: body for move in self})
        today = fields.Date.context_today(self)
        by_partner = defaultdict(lambda: self.browse())
        for move in self:
            by_partner[(move.commercial_partner_id, move.company_id, move.currency_id)] |= move
        self.env["dunning.event"].sudo().create(
            [
                {
                    "date": today,
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "channel": "manual",
                    "state": "done",
                    "origin": "manual",
                    "currency_id": currency.id,
                    "amount_due": sum(moves.mapped("amount_residual")),
                    "invoice_ids": [fields.Command.set(moves.ids)],
                    "message": body,
                }
                for (partner, company, currency), moves in by_partner.items()
            ]
        )

    def action_open_dunning_dispute_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Dispute"),
            "res_model": "dunning.dispute.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_ids": self.ids},
        }
