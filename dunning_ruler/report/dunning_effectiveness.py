"""How much was paid after each executed level: the supervisor tunes the ruler with it."""

from odoo import api, fields, models
from odoo.tools import SQL

WINDOWS = (3, 7, 30)


class DunningEffectiveness(models.Model):
    """One row per level executed for a customer on a date (whatever its channels).

    ``amount_due`` is what its installments still owed when the level was executed
    (company currency); ``paid_N`` what was reconciled on them from that day to N days
    later. Shares are computed on the aggregated sums, never averaged."""

    _name = "dunning.effectiveness"
    _description = "Dunning Effectiveness"
    _auto = False
    _order = "date desc, id desc"

    date = fields.Date(readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    ruler_id = fields.Many2one("dunning.ruler", readonly=True)
    level_id = fields.Many2one("dunning.level", readonly=True)
    grade_id = fields.Many2one("dunning.grade", readonly=True)
    origin = fields.Selection([("run", "Scheduled run"), ("manual", "Manual")], readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    amount_due = fields.Monetary(string="Due When Executed", readonly=True)
    paid_3 = fields.Monetary(string="Paid Within 3 Days", readonly=True)
    paid_7 = fields.Monetary(string="Paid Within 7 Days", readonly=True)
    paid_30 = fields.Monetary(string="Paid Within 30 Days", readonly=True)
    share_3 = fields.Float(string="% Paid Within 3 Days", aggregator="avg", readonly=True)
    share_7 = fields.Float(string="% Paid Within 7 Days", aggregator="avg", readonly=True)
    share_30 = fields.Float(string="% Paid Within 30 Days", aggregator="avg", readonly=True)

    @property
    def _table_query(self):
        paid = SQL(", ").join(
            SQL(
                "COALESCE(SUM(apr.amount) FILTER (WHERE apr.max_date BETWEEN ex.date AND ex.date + %s), 0)"
                " AS paid_%s",
                days,
                SQL(str(days)),
            )
            for days in WINDOWS
        )
        share = SQL(", ").join(
            SQL(
                "CASE WHEN per_line.amount_due > 0 THEN 100.0 * per_line.paid_%(d)s / per_line.amount_due "
                "ELSE 0 END AS share_%(d)s",
                d=SQL(str(days)),
            )
            for days in WINDOWS
        )
        return SQL(
            """
            WITH ex AS (
                SELECT MIN(e.id) AS id, e.date, e.partner_id, e.company_id, e.ruler_id, e.level_id,
                       e.grade_id, MIN(e.origin) AS origin
                  FROM dunning_event e
                 WHERE e.state = 'done' AND e.level_id IS NOT NULL
              GROUP BY e.date, e.partner_id, e.company_id, e.ruler_id, e.level_id, e.grade_id
            ), ex_line AS (
                SELECT ex.id AS ex_id, ex.date, aml.id AS line_id, aml.balance,
                       %(paid)s,
                       COALESCE(SUM(apr.amount) FILTER (WHERE apr.max_date < ex.date), 0) AS paid_before
                  FROM ex
                  JOIN dunning_event_account_move_line_rel rel ON rel.event_id = ex.id
                  JOIN account_move_line aml ON aml.id = rel.line_id
             LEFT JOIN account_partial_reconcile apr ON apr.debit_move_id = aml.id
              GROUP BY ex.id, ex.date, aml.id, aml.balance
            ), per_line AS (
                SELECT ex_id, SUM(balance - paid_before) AS amount_due,
                       SUM(paid_3) AS paid_3, SUM(paid_7) AS paid_7, SUM(paid_30) AS paid_30
                  FROM ex_line
              GROUP BY ex_id
            )
            SELECT ex.id, ex.date, ex.partner_id, ex.company_id, ex.ruler_id, ex.level_id, ex.grade_id,
                   ex.origin, c.currency_id,
                   per_line.amount_due, per_line.paid_3, per_line.paid_7, per_line.paid_30,
                   %(share)s
              FROM ex
              JOIN per_line ON per_line.ex_id = ex.id
              JOIN res_company c ON c.id = ex.company_id
            """,
            paid=paid,
            share=share,
        )

    def _read_group_select(self, aggregate_spec, query):
        """A share of a group is its paid sum over its due sum, not the mean of the shares."""
        fname, __, func = aggregate_spec.partition(":")
        if fname.startswith("share_") and func == "avg":
            days = fname.removeprefix("share_")
            return SQL(
                "COALESCE(100.0 * SUM(%s) / NULLIF(SUM(%s), 0), 0)",
                self._field_to_sql(self._table, f"paid_{days}", query),
                self._field_to_sql(self._table, "amount_due", query),
            )
        return super()._read_group_select(aggregate_spec, query)

    @api.model
    def _get_figures(self, domain=None):
        """{(level, grade): {amount_due, paid_N, share_N}}: used by tests and the dashboard."""
        aggregates = (
            ["amount_due:sum"] + [f"paid_{d}:sum" for d in WINDOWS] + [f"share_{d}:avg" for d in WINDOWS]
        )
        result = {}
        for level, grade, *values in self._read_group(domain or [], ["level_id", "grade_id"], aggregates):
            result[(level, grade)] = dict(zip([a.split(":")[0] for a in aggregates], values, strict=True))
        return result
