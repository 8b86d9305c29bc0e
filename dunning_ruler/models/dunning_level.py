from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Offsets outside this window are configuration mistakes (a year overdue, a quarter early).
MIN_OFFSET_DAYS = -90
MAX_OFFSET_DAYS = 365


class DunningLevel(models.Model):
    _name = "dunning.level"
    _description = "Dunning Level"
    _order = "ruler_id, offset_days, sequence, id"

    ruler_id = fields.Many2one("dunning.ruler", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="ruler_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    offset_days = fields.Integer(
        string="Offset (days)",
        required=True,
        help="Days relative to the due date: negative before it, 0 on the due date, positive overdue.",
    )
    tone = fields.Selection(
        [
            ("friendly", "Friendly"),
            ("neutral", "Neutral"),
            ("firm", "Firm"),
            ("urgent", "Urgent"),
            ("final", "Final"),
        ],
        default="neutral",
        required=True,
        help="Intensity of the communication at this level.",
    )
    send_email = fields.Boolean()
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Email Template",
        domain=[("model", "=", "dunning.event")],
    )
    create_activity = fields.Boolean()
    activity_type_id = fields.Many2one("mail.activity.type")
    activity_summary = fields.Char(translate=True)
    activity_user_id = fields.Many2one(
        "res.users",
        string="Activity Assigned To",
        help="Defaults to the customer's salesperson, then to the user running the dunning.",
    )
    action = fields.Selection(
        [("none", "No action")],
        default="none",
        required=True,
        help="What happens to the customer besides communication.",
    )
    description = fields.Text(translate=True)

    @api.constrains("offset_days", "ruler_id")
    def _check_offset_days(self):
        for level in self:
            if not MIN_OFFSET_DAYS <= level.offset_days <= MAX_OFFSET_DAYS:
                raise ValidationError(
                    self.env._(
                        "The offset of level “%(level)s” must be between %(min)s and %(max)s days.",
                        level=level.name,
                        min=MIN_OFFSET_DAYS,
                        max=MAX_OFFSET_DAYS,
                    )
                )
        rulers = self.ruler_id
        groups = self._read_group([("ruler_id", "in", rulers.ids)], ["ruler_id", "offset_days"], ["__count"])
        for ruler, offset, count in groups:
            if count > 1:
                raise ValidationError(
                    self.env._(
                        "Ruler “%(ruler)s” has several levels at %(offset)s days: "
                        "each level needs its own offset.",
                        ruler=ruler.name,
                        offset=offset,
                    )
                )

    @api.constrains("send_email", "mail_template_id", "create_activity", "activity_type_id")
    def _check_channels(self):
        for level in self:
            if level.send_email and not level.mail_template_id:
                raise ValidationError(
                    self.env._("Level “%s” sends an email: choose its template.", level.name)
                )
            if level.create_activity and not level.activity_type_id:
                raise ValidationError(
                    self.env._("Level “%s” creates an activity: choose its type.", level.name)
                )

    @api.depends("name", "offset_days")
    def _compute_display_name(self):
        for level in self:
            offset = level.offset_days
            when = f"D{offset:+d}" if offset else "D0"
            level.display_name = f"{level.name} ({when})"

    def _get_channels(self):
        """Channels this level communicates or acts through, in dispatch order.

        Other modules extend this (sms, letter, access...)."""
        self.ensure_one()
        channels = []
        if self.send_email:
            channels.append("email")
        if self.create_activity:
            channels.append("activity")
        if self.action != "none":
            channels.append("action")
        return channels
