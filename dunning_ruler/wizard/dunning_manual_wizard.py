from markupsafe import Markup

from odoo import api, fields, models


class DunningManualWizard(models.TransientModel):
    """Send a customer's next level now, or skip it, after seeing what it is."""

    _name = "dunning.manual.wizard"
    _description = "Send or skip the next dunning level"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    summary = fields.Html(compute="_compute_summary", sanitize=True)

    @api.depends("partner_ids")
    def _compute_summary(self):
        for wizard in self:
            steps = self.env["res.partner"]._dunning_next_steps(
                wizard.partner_ids, fields.Date.context_today(self)
            )
            if not steps:
                wizard.summary = Markup("<p>%s</p>") % self.env._("No next level to send: nothing is due.")
                continue
            partners = self.env["res.partner"].browse({s.partner_id for s in steps})
            levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
            items = []
            for step in steps:
                level = levels.browse(step.level_id)
                items.append(
                    Markup("<li>%s: <b>%s</b> (%s) %s</li>")
                    % (
                        partners.browse(step.partner_id).display_name,
                        level.display_name,
                        ", ".join(level._get_channels()) or self.env._("no channel"),
                        self.env._("for %s invoice(s)", len(step.move_ids)),
                    )
                )
            wizard.summary = Markup("<ul>%s</ul>") % Markup("").join(items)

    def action_send(self):
        self.partner_ids.action_dunning_send_next_level()
        return {"type": "ir.actions.act_window_close"}

    def action_skip(self):
        self.partner_ids.action_dunning_skip_level()
        return {"type": "ir.actions.act_window_close"}
