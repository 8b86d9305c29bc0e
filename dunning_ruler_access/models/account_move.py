from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.dunning_ruler.tools.i18n import _lt


class AccountMove(models.Model):
    _inherit = "account.move"

    dunning_dispute_lifts_access = fields.Boolean(
        string="Dispute Lifts Platform Restriction",
        copy=False,
        readonly=True,
        help="A dispute lifts the customer's platform restriction only once a dunning supervisor "
        "made or confirmed it (as only supervisors grant a provisional unblock). An agent's "
        "dispute stops the reminders and further escalation, not a restriction in place.",
    )

    def _dunning_access_by_supervisor(self):
        # The user behind the call, even when the dispute is written with sudo().
        user = self.env.user
        return user.has_group("dunning_ruler.group_dunning_supervisor") or user.has_group("base.group_system")

    def write(self, vals):
        if "dunning_dispute_lifts_access" in vals and not self._dunning_access_by_supervisor():
            raise AccessError(
                self.env._("Only dunning supervisors can let a dispute lift a platform restriction.")
            )
        if "dunning_excluded" in vals and "dunning_dispute_lifts_access" not in vals:
            vals = dict(
                vals,
                dunning_dispute_lifts_access=bool(vals["dunning_excluded"])
                and self._dunning_access_by_supervisor(),
            )
        res = super().write(vals)
        if "dunning_excluded" in vals or "dunning_dispute_lifts_access" in vals:
            # A dispute made or confirmed by a supervisor never keeps its customer restricted.
            self.commercial_partner_id._dunning_access_sync(_lt("Dispute changed"))
        return res

    def action_dunning_access_confirm_dispute(self):
        """Supervisor: the disputes of these invoices (made by agents) lift the platform
        restriction they cause."""
        if not self._dunning_access_by_supervisor():
            raise AccessError(
                self.env._("Only dunning supervisors can let a dispute lift a platform restriction.")
            )
        moves = self.filtered(lambda m: m.dunning_excluded and not m.dunning_dispute_lifts_access)
        if not moves:
            raise UserError(self.env._("No invoice in dispute waits for a supervisor's confirmation."))
        moves.sudo().write({"dunning_dispute_lifts_access": True})
        moves.sudo()._message_log_batch(
            bodies={
                move.id: self.env._(
                    "Dispute confirmed by %s: it lifts the platform restriction.", self.env.user.name
                )
                for move in moves
            }
        )
        return True
