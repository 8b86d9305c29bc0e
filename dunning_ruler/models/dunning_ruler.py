from odoo import api, fields, models
from odoo.exceptions import ValidationError


class DunningRuler(models.Model):
    """A ladder of dunning levels, each at an offset in days from the due date."""

    _name = "dunning.ruler"
    _description = "Dunning Ruler"
    _order = "company_id, name"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    level_ids = fields.One2many("dunning.level", "ruler_id", string="Levels", copy=True)
    min_amount = fields.Monetary(
        string="Minimum Balance",
        currency_field="currency_id",
        help="Customers whose open balance in this company is below this amount are never dunned.",
    )
    grade_ids = fields.One2many("dunning.grade", "ruler_id", string="Grades")
    note = fields.Html()
    level_count = fields.Integer(compute="_compute_level_count")

    @api.depends("level_ids")
    def _compute_level_count(self):
        for ruler in self:
            ruler.level_count = len(ruler.level_ids)

    @api.constrains("min_amount", "company_id", "level_ids")
    def _check_configuration(self):
        self._raise_configuration_problems(self._get_configuration_problems())

    def _get_configuration_problems(self):
        """Every problem of these rulers and of their levels, as messages: a ruler is
        corrected in one go, not one error at a time."""
        return self._get_ruler_problems() + self.level_ids._get_configuration_problems()

    def _get_ruler_problems(self):
        """The problems of these rulers themselves: their settings, their grades, and
        levels sharing an offset (read from the database: what is saved)."""
        problems = []
        for ruler in self:
            if ruler.min_amount < 0:
                problems.append(
                    self.env._(
                        "The minimum balance of ruler “%(ruler)s” cannot be negative.", ruler=ruler.name
                    )
                )
            if any(grade.company_id != ruler.company_id for grade in ruler.grade_ids):
                problems.append(
                    self.env._("Ruler “%(ruler)s” is used by grades of another company.", ruler=ruler.name)
                )
        groups = self.env["dunning.level"]._read_group(
            [("ruler_id", "in", self.ids)], ["ruler_id", "offset_days"], ["__count"], order="offset_days"
        )
        problems.extend(
            self.env._(
                "Ruler “%(ruler)s” has several levels at %(offset)s days: each level needs its own offset.",
                ruler=ruler.name,
                offset=offset,
            )
            for ruler, offset, count in groups
            if count > 1
        )
        return problems

    @api.model
    def _raise_configuration_problems(self, problems):
        """One ValidationError listing all ``problems`` (messages), if any."""
        problems = list(dict.fromkeys(problems))
        if len(problems) == 1:
            raise ValidationError(problems[0])
        if problems:
            raise ValidationError(
                self.env._("Please correct the following:")
                + "".join(f"\n- {problem}" for problem in problems)
            )

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------
    def _check_dunning_agent(self):
        self.env["dunning.engine"]._check_role(
            "agent", self.env._("Only dunning agents can run the dunning rulers.")
        )

    @api.model
    def run_dunning(self, as_of=None):
        """Process every active ruler of every company for ``as_of`` (today by default).

        Returns a summary dict (see ``dunning.engine._run``). Safe to call twice:
        levels already executed are never executed again.
        """
        self._check_dunning_agent()
        # The scheduled action (superuser) runs every company; a user only the companies
        # they work in.
        company_ids = None if self.env.su else self.env.companies.ids
        return self.env["dunning.engine"]._run(as_of=as_of, company_ids=company_ids)

    @api.model
    def _cron_run_dunning(self):
        return self.sudo().run_dunning()

    @api.model
    def _cron_run_dunning_helper(self):
        """Another worker of a large run (started by the run itself): claims batches of
        the scheduled runs under way (``dunning.run.batch``), as many as there are
        helper scheduled actions (``dunning_ruler.parallel_workers``), on any Odoo
        server sharing the database. Nothing under way: does nothing."""
        pending = self.env["dunning.run.batch"].sudo().search_count([("state", "=", "pending")], limit=1)
        if not pending:
            return None
        return self.sudo().with_context(dunning_helper=True).run_dunning()

    def action_run_now(self):
        """Start the run in the background (the scheduled action, triggered now) and
        show its progress: a long run never freezes the browser."""
        self._check_dunning_agent()
        self.env.ref("dunning_ruler.ir_cron_dunning_run").sudo()._trigger()
        status = self.env["dunning.run.status"].create({})
        return status.action_refresh()
