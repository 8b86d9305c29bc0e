from odoo import api, fields, models

from .dunning_mail_batch import BATCHING_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    dunning_default_grade_id = fields.Many2one(
        related="company_id.dunning_default_grade_id",
        readonly=False,
        domain="[('company_id', '=', company_id)]",
    )

    dunning_fee_booking = fields.Selection(related="company_id.dunning_fee_booking", readonly=False)
    dunning_promise_max_days = fields.Integer(related="company_id.dunning_promise_max_days", readonly=False)
    dunning_promise_interval_days = fields.Integer(
        related="company_id.dunning_promise_interval_days", readonly=False
    )

    dunning_activity_user_id = fields.Many2one(
        related="company_id.dunning_activity_user_id",
        readonly=False,
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
    )

    # Stored as "True"/"False" by get_values/set_values: a boolean config_parameter
    # field deletes its parameter when unticked, which then reads as its default (on).
    dunning_email_batching = fields.Boolean(
        string="Batched reminder emails",
        default=True,
        help="Render, post and queue the reminder emails of a run set by set (fast). "
        "Off: every reminder is rendered and posted by Odoo's standard message posting, "
        "one at a time (slower, for comparison or troubleshooting).",
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        values["dunning_email_batching"] = self.env["dunning.mail.batch"]._batching_enabled()
        return values

    def set_values(self):
        result = super().set_values()
        self.env["ir.config_parameter"].sudo().set_param(
            BATCHING_PARAM, str(bool(self.dunning_email_batching))
        )
        return result
