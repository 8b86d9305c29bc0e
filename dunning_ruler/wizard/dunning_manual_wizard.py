from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools.misc import format_date, formatLang


class DunningManualWizard(models.TransientModel):
    """Send a customer's next level now, or skip it, after seeing what it is."""

    _name = "dunning.manual.wizard"
    _description = "Send or skip the next dunning level"

    partner_ids = fields.Many2many("res.partner", string="Customers", required=True)
    summary = fields.Html(compute="_compute_summary", sanitize=True)
    warnings = fields.Html(
        compute="_compute_summary",
        sanitize=True,
        help="What changes what the next level will do (guards of the run: dispute, hand-over, "
        "payment arrangement, exempt grade, notice before a block...).",
    )

    @api.depends("partner_ids")
    def _compute_summary(self):
        Partner = self.env["res.partner"]
        today = fields.Date.context_today(self)
        for wizard in self:
            steps = Partner._dunning_next_steps(wizard.partner_ids, today)
            if not steps:
                wizard.summary = Markup("<p>%s</p>") % self.env._("No next level to send: nothing is due.")
                wizard.warnings = False
                continue
            partners = Partner.browse({s.partner_id for s in steps})
            levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
            moves = self.env["account.move"].sudo().browse({m for s in steps for m in s.move_ids})
            lines = self.env["account.move.line"].sudo().browse({lid for s in steps for lid in s.line_ids})
            items = []
            for step in steps:
                level = levels.browse(step.level_id)
                rows = []
                for move in moves.browse(step.move_ids):
                    move_lines = lines.browse(step.line_ids).filtered(lambda ln, m=move: ln.move_id == m)
                    due = min(move_lines.mapped("date_maturity"))
                    days = (today - due).days
                    rows.append(
                        Markup("<li>%s: %s, %s (%s)</li>")
                        % (
                            move.name,
                            formatLang(
                                self.env,
                                sum(move_lines.mapped("amount_residual_currency")),
                                currency_obj=move.currency_id,
                            ),
                            self.env._("due on %s", format_date(self.env, due)),
                            self.env._("%s day(s) overdue", days)
                            if days > 0
                            else self.env._("due today")
                            if days == 0
                            else self.env._("due in %s day(s)", -days),
                        )
                    )
                items.append(
                    Markup("<li>%s: <b>%s</b> (%s) %s<ul>%s</ul></li>")
                    % (
                        partners.browse(step.partner_id).display_name,
                        level.display_name,
                        ", ".join(level._get_channels()) or self.env._("no channel"),
                        self.env._("for %s invoice(s):", len(step.move_ids)),
                        Markup("").join(rows),
                    )
                )
            wizard.summary = Markup("<ul>%s</ul>") % Markup("").join(items)
            warnings = Partner._dunning_next_step_warnings(steps, today)
            wizard.warnings = (
                Markup("<ul>%s</ul>")
                % Markup("").join(
                    Markup("<li>%s: %s</li>") % (partners.browse(partner_id).display_name, text)
                    for partner_id, texts in warnings.items()
                    for text in texts
                )
                if any(warnings.values())
                else False
            )

    def action_send(self):
        self.partner_ids.action_dunning_send_next_level()
        return {"type": "ir.actions.act_window_close"}

    def action_skip(self):
        self.partner_ids.action_dunning_skip_level()
        return {"type": "ir.actions.act_window_close"}
