from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError

from .dunning_preview_line import _channel_selection


class DunningPreview(models.TransientModel):
    """Dry run: what a run would send, restrict or block on a date, without any side effect."""

    _name = "dunning.preview"
    _description = "Dunning preview"

    as_of = fields.Date(string="Run Date", required=True, default=fields.Date.context_today)
    company_ids = fields.Many2many("res.company", string="Companies", default=lambda self: self.env.companies)
    partner_ids = fields.Many2many(
        "res.partner", string="Only These Customers", help="Empty: every customer with something due."
    )
    line_ids = fields.One2many("dunning.preview.line", "preview_id", string="Planned Steps")
    line_count = fields.Integer(compute="_compute_totals")
    partner_count = fields.Integer(string="Customers", compute="_compute_totals")
    computed = fields.Boolean(readonly=True)
    is_future = fields.Boolean(compute="_compute_is_future", help="A future date can be previewed, not run.")

    @api.depends("as_of")
    def _compute_is_future(self):
        today = fields.Date.context_today(self)
        for preview in self:
            preview.is_future = bool(preview.as_of and preview.as_of > today)

    @api.depends("line_ids")
    def _compute_totals(self):
        for preview in self:
            preview.line_count = len(preview.line_ids)
            preview.partner_count = len(preview.line_ids.partner_id)

    def _check_agent(self):
        self.env["dunning.engine"]._check_role("agent")

    def _compute_lines(self):
        self.ensure_one()
        self._check_agent()
        self.line_ids.unlink()
        engine = self.env["dunning.engine"]
        steps = engine._preview(
            self.as_of,
            self.company_ids.ids or self.env.companies.ids,
            self.partner_ids.commercial_partner_id.ids or None,
        )
        executed = [s for s in steps if not s.skipped]
        skipped_names = {}
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
        for step in steps:
            if step.skipped:
                skipped_names.setdefault(step.partner_id, []).append(levels.browse(step.level_id).name)
        lines = self.env["account.move.line"].sudo().browse({lid for s in executed for lid in s.line_ids})
        lines.fetch(["currency_id", "amount_residual", "amount_residual_currency", "company_currency_id"])
        labels = dict(_channel_selection(self))
        # As a run: one message per customer, company and message channel, of the
        # highest level using it, including the lower levels' invoices; activities
        # and actions level by level.
        channels_of, sender = engine._message_senders(executed)
        included = defaultdict(list)  # sender key: the steps its message includes
        for step in executed:
            for channel in channels_of[step.level_id]:
                if (step.partner_id, step.company_id, channel) in sender:
                    included[step.partner_id, step.company_id, channel].append(step)
        top = {}  # (customer, company): the highest level executed, for the dashboard's card
        for step in executed:
            key = (step.partner_id, step.company_id)
            if key not in top or step.offset_days > top[key].offset_days:
                top[key] = step
        vals_list = []
        for step in executed:
            channels = channels_of[step.level_id]
            for channel in channels:
                key = (step.partner_id, step.company_id, channel)
                if key in sender and sender[key] is not step:
                    continue  # included in the message of a higher level
                group = included.get(key, [step])
                line_ids = [lid for s in group for lid in s.line_ids]
                move_ids = list(dict.fromkeys(m for s in group for m in s.move_ids))
                amount, currency = engine._lines_amount(lines.browse(line_ids))
                vals_list.append(
                    {
                        "preview_id": self.id,
                        "partner_id": step.partner_id,
                        "company_id": step.company_id,
                        "grade_id": step.grade_id,
                        "ruler_id": step.ruler_id,
                        "level_id": step.level_id,
                        "channel": channel,
                        "is_main": step is top[step.partner_id, step.company_id] and channel == channels[0],
                        "channels": ", ".join(str(labels.get(c, c)) for c in channels),
                        "invoice_ids": [fields.Command.set(move_ids)],
                        "amount": amount,
                        "currency_id": currency.id,
                        "included_levels": ", ".join(
                            levels.browse(s.level_id).name for s in group if s is not step
                        ),
                        "skipped_levels": ", ".join(skipped_names.get(step.partner_id, [])),
                    }
                )
        self.env["dunning.preview.line"].create(vals_list)
        self.computed = True

    def action_compute(self):
        self._compute_lines()
        return self._reopen()

    def action_change_date(self):
        """Back to the criteria: the results of the previous date are dropped (the
        date is read-only while they are shown, so its picker never hides them)."""
        self.ensure_one()
        self.line_ids.unlink()
        self.computed = False
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Dunning preview"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_run_selection(self):
        """Run for real, on the preview date, for the customers still selected only."""
        self.ensure_one()
        self._check_agent()
        if self.is_future:
            raise UserError(self.env._("A run cannot be executed for a future date: preview only."))
        partner_ids = self.line_ids.filtered("selected").partner_id.ids
        if not partner_ids:
            raise UserError(self.env._("Select at least one line to run."))
        summary = self.env["dunning.engine"]._run(
            as_of=self.as_of,
            company_ids=self.company_ids.ids or self.env.companies.ids,
            partner_ids=partner_ids,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Dunning run finished"),
                "message": self.env._(
                    "%(done)s messages and actions done, %(skipped)s skipped, %(failed)s failed "
                    "for %(partners)s customers.",
                    **summary,
                ),
                "type": "warning" if summary["failed"] else "success",
                "sticky": False,
                "next": {
                    "type": "ir.actions.act_window",
                    "name": self.env._("Dunning Events"),
                    "res_model": "dunning.event",
                    "view_mode": "list,form",
                    "views": [(False, "list"), (False, "form")],
                    "domain": [
                        ("date", "=", fields.Date.to_string(self.as_of)),
                        ("partner_id", "in", partner_ids),
                    ],
                },
            },
        }

    @api.model
    def action_open_dashboard(self):
        """Customers needing action today: today's preview, as a kanban by level."""
        preview = self.create({})
        preview._compute_lines()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "dunning_ruler.dunning_preview_line_dashboard_action"
        )
        # One card per customer, under its highest level, whatever its channels.
        action["domain"] = [("preview_id", "=", preview.id), ("is_main", "=", True)]
        # Grouped by level only when there is something to show: an empty grouped
        # kanban shows no "Nothing to do today" helper.
        action["context"] = {"create": False}
        if preview.line_ids:
            action["context"]["search_default_group_by_level"] = 1
        return action
