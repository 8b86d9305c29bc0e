from odoo import api, fields, models


class DunningRunStatus(models.TransientModel):
    """Progress of the dunning run started from the UI in the background (cron progress)."""

    _name = "dunning.run.status"
    _description = "Dunning run progress"

    cron_id = fields.Many2one("ir.cron", compute="_compute_progress")
    state = fields.Selection(
        [("queued", "Queued"), ("running", "Running"), ("done", "Finished")], compute="_compute_progress"
    )
    done = fields.Integer(string="Customers Done", compute="_compute_progress")
    remaining = fields.Integer(string="Customers Remaining", compute="_compute_progress")
    progress = fields.Float(compute="_compute_progress")
    last_run = fields.Datetime(compute="_compute_progress")
    started = fields.Datetime(default=fields.Datetime.now, readonly=True)
    # Progress records of earlier runs are ignored: only those created after this one count.
    progress_floor_id = fields.Integer(default=lambda self: self._default_progress_floor(), readonly=True)

    @api.model
    def _default_progress_floor(self):
        cron = self.env.ref("dunning_ruler.ir_cron_dunning_run").sudo()
        last = (
            self.env["ir.cron.progress"].sudo().search([("cron_id", "=", cron.id)], order="id desc", limit=1)
        )
        return last.id or 0

    @api.depends_context("uid")
    def _compute_progress(self):
        cron = self.env.ref("dunning_ruler.ir_cron_dunning_run").sudo()
        triggers = self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])
        for status in self:
            progress = (
                self.env["ir.cron.progress"]
                .sudo()
                .search(
                    [("cron_id", "=", cron.id), ("id", ">", status.progress_floor_id)],
                    order="id desc",
                    limit=1,
                )
            )
            status.cron_id = cron
            status.last_run = cron.lastcall
            status.done = progress.done
            status.remaining = progress.remaining
            total = progress.done + progress.remaining
            status.progress = 100.0 * progress.done / total if total else (100.0 if progress else 0.0)
            if progress and not progress.remaining:
                status.state = "done"
            elif progress:
                status.state = "running"
            else:
                status.state = "queued" if triggers else "done"

    def action_refresh(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Dunning run"),
        }

    def action_view_events(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.event",
            "view_mode": "list,kanban,form,pivot,graph",
            "domain": [("create_date", ">=", self.started)],
            "name": self.env._("Dunning Events"),
        }
