"""Collection extensions of the engine: level conditions, arrangements check, fees.

Kept apart from ``dunning_engine.py``: the core only calls the hooks below."""

import logging
from collections import defaultdict

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_round

_logger = logging.getLogger(__name__)


class DunningEngine(models.AbstractModel):
    _inherit = "dunning.engine"

    # ------------------------------------------------------------------
    # Daily arrangement check, before planning
    # ------------------------------------------------------------------
    @api.model
    def _run(self, as_of=None, company_ids=None, partner_ids=None, batch_size=None):
        # A missed instalment releases its invoices before the ladder is planned, so the
        # same run resumes their dunning; a kept plan keeps them out of it.
        # (Checked once per run: not again by the helper worker sharing a large run.)
        if not self.env.context.get("dunning_helper"):
            self.env["dunning.arrangement"].sudo()._check_arrangements(as_of=as_of, company_ids=company_ids)
        return super()._run(
            as_of=as_of, company_ids=company_ids, partner_ids=partner_ids, batch_size=batch_size
        )

    # ------------------------------------------------------------------
    # Level conditions
    # ------------------------------------------------------------------
    @api.model
    def _overdue_totals(self, as_of, company_partner_pairs):
        """{(company, partner): (overdue amount in company currency, overdue invoice count)}
        for the dunnable overdue installments of some customers: one grouped query."""
        if not company_partner_pairs:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.company_id, m.commercial_partner_id,
                       SUM(aml.amount_residual), COUNT(DISTINCT aml.move_id)
                  FROM account_move_line aml
                  JOIN account_move m ON m.id = aml.move_id
                 WHERE aml.display_type = 'payment_term'
                   AND aml.parent_state = 'posted'
                   AND m.move_type = 'out_invoice'
                   AND aml.reconciled IS NOT TRUE
                   AND aml.amount_residual > 0
                   AND aml.date_maturity < %(as_of)s
                   AND m.dunning_excluded IS NOT TRUE
                   AND m.dunning_handover_id IS NULL
                   AND m.dunning_arrangement_id IS NULL
                   AND aml.company_id = ANY(%(companies)s)
                   AND m.commercial_partner_id = ANY(%(partners)s)
              GROUP BY aml.company_id, m.commercial_partner_id
                """,
                as_of=as_of,
                companies=list({c for c, _p in company_partner_pairs}),
                partners=list({p for _c, p in company_partner_pairs}),
            )
        )
        return {(c, p): (amount, count) for c, p, amount, count in self.env.cr.fetchall()}

    @api.model
    def _plan_failed_conditions(self, lines, as_of):
        """{(partner_id, level_id): reason} for the due levels whose conditions fail;
        ``lines``: the due installments of ``_fetch_due_lines``.

        Per batch: one grouped query for the totals (only if some level needs them) and
        one partner search per level carrying a domain."""
        levels = self.env["dunning.level"].sudo().browse(set().union(*(line[6] for line in lines)))
        conditional = levels.filtered(lambda lvl: lvl._has_conditions())
        if not conditional:
            return {}
        partners_by_level = defaultdict(set)
        company_of = {}
        conditional_ids = set(conditional.ids)
        for _line, _move, company_id, partner_id, _grade, _ruler, level_ids, _offsets in lines:
            for level_id in conditional_ids.intersection(level_ids):
                partners_by_level[level_id].add(partner_id)
                company_of[level_id, partner_id] = company_id
        totals = {}
        if any(lvl.condition_min_amount > 0 or lvl.condition_min_invoices > 0 for lvl in conditional):
            totals = self._overdue_totals(as_of, {(c, p) for (_l, p), c in company_of.items()})
        failed = {}
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        for level in conditional:
            partner_ids = partners_by_level[level.id]
            matching = None
            if level.condition_partner_domain:
                matching = set(
                    Partner.search([("id", "in", list(partner_ids))] + level._get_condition_domain()).ids
                )
            currency = level.company_id.currency_id
            for partner_id in partner_ids:
                amount, count = totals.get((company_of[level.id, partner_id], partner_id), (0.0, 0))
                if (
                    level.condition_min_amount > 0
                    and currency.compare_amounts(amount, level.condition_min_amount) < 0
                ):
                    failed[partner_id, level.id] = self.env._(
                        "Condition not met: overdue total %(amount)s is below %(min)s.",
                        amount=float_round(amount, precision_rounding=currency.rounding),
                        min=level.condition_min_amount,
                    )
                elif level.condition_min_invoices > 0 and count < level.condition_min_invoices:
                    failed[partner_id, level.id] = self.env._(
                        "Condition not met: %(count)s overdue invoice(s), %(min)s required.",
                        count=count,
                        min=level.condition_min_invoices,
                    )
                elif matching is not None and partner_id not in matching:
                    failed[partner_id, level.id] = self.env._(
                        "Condition not met: the customer does not match the level's customer filter."
                    )
        return failed

    # ------------------------------------------------------------------
    # Fees
    # ------------------------------------------------------------------
    @api.model
    def _book_fees(self, events, steps, as_of):
        """Charge the fee of each executed level with a fee, once per (level, invoice)."""
        executed = [s for s in steps if not s.skipped]
        if not executed:
            return
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in executed})
        fee_levels = levels.filtered(lambda lvl: lvl.fee_mode != "none")
        if not fee_levels:
            return
        event_of = {}
        for event in events.filtered(lambda e: e.state == "done"):
            event_of.setdefault((event.partner_id.id, event.level_id.id), event)
        pairs = [(s, event_of[s.partner_id, s.level_id]) for s in executed if s.level_id in fee_levels.ids]
        try:
            # A booking error (no sale journal, locked period...) must not stop the reminders:
            # the fees are left out and the reason is kept on the events.
            with self.env.cr.savepoint():
                self.env["dunning.fee"].sudo()._charge(pairs, as_of)
        except UserError as error:
            _logger.warning("Dunning fees not booked on %s: %s", as_of, error)
            for _step, event in pairs:
                event.failure_reason = self.env._("Fee not charged: %s", error.args[0])
