from collections import defaultdict
from datetime import timedelta

from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _dunning_portal_values(self, moves, today):
        """What the customer sees on /my/dunning: overdue invoices (read with the
        customer's own rights by the caller), totals per currency, current level and
        the next step with its date."""
        self.ensure_one()
        commercial = self.commercial_partner_id.sudo()
        overdue = moves.filtered(lambda m: m.invoice_date_due and m.invoice_date_due < today)
        totals = defaultdict(float)
        for move in moves:
            totals[move.currency_id] += move.amount_residual
        overdue_totals = defaultdict(float)
        for move in overdue:
            overdue_totals[move.currency_id] += move.amount_residual
        grade = commercial.with_company(self.env.company).dunning_effective_grade_id
        level = commercial.dunning_level_id
        next_level = next_date = False
        open_moves = moves.filtered(lambda m: m.invoice_date_due and not m.dunning_excluded)
        if grade and not grade.no_dunning and open_moves:
            oldest = min(open_moves.mapped("invoice_date_due"))

            def level_date(lvl):
                grace = grade.grace_days if lvl.offset_days > 0 else 0
                return oldest + timedelta(days=lvl.offset_days + grace)

            current = level.offset_days if level else None
            ahead = [
                lvl
                for lvl in grade.ruler_id.level_ids.sorted("offset_days")
                if current is None or lvl.offset_days > current
            ]
            # Like the engine: of the levels already due, only the highest communicates.
            due_now = [lvl for lvl in ahead if level_date(lvl) <= today]
            if due_now:
                next_level, next_date = due_now[-1], today
            elif ahead:
                next_level, next_date = ahead[0], level_date(ahead[0])
            if next_level and commercial.dunning_hold_until and commercial.dunning_hold_until > next_date:
                next_date = commercial.dunning_hold_until
        return {
            "dunning_partner": commercial,
            "overdue_invoices": overdue,
            "open_invoices": moves,
            "total_owed": sorted(totals.items(), key=lambda i: i[0].name),
            "total_overdue": sorted(overdue_totals.items(), key=lambda i: i[0].name),
            "dunning_level": level,
            "next_level": next_level,
            "next_date": next_date,
            "hold_until": commercial.dunning_hold_until
            if commercial.dunning_hold_until and commercial.dunning_hold_until > today
            else False,
        }
