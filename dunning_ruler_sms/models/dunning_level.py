from odoo import api, fields, models

TEMPLATE_MODELS = ("res.partner", "account.move")


class DunningLevel(models.Model):
    _inherit = "dunning.level"

    send_sms = fields.Boolean(string="Send SMS")
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain=[("model", "in", TEMPLATE_MODELS)],
        help="Short text on the customer (or invoice) model; use the Dunning placeholders "
        "(object.dunning_sms_amount, object.dunning_sms_due_date...) for the exact sum owed.",
    )
    send_whatsapp = fields.Boolean(string="Send WhatsApp")
    whatsapp_template_id = fields.Many2one(
        "sms.template",
        string="WhatsApp Template",
        domain=[("model", "in", TEMPLATE_MODELS)],
        help="Short text sent through the company's WhatsApp HTTP gateway.",
    )

    @api.constrains("send_sms", "sms_template_id", "send_whatsapp", "whatsapp_template_id")
    def _check_phone_channels(self):
        # With the other problems of the ruler: reported together.
        self._check_configuration()

    def _get_configuration_problems(self):
        problems = super()._get_configuration_problems()
        for level in self:
            for send, template, label in (
                (level.send_sms, level.sms_template_id, "SMS"),
                (level.send_whatsapp, level.whatsapp_template_id, "WhatsApp"),
            ):
                if send and not template:
                    problems.append(
                        self.env._(
                            "Level “%(level)s” sends %(channel)s: choose its template.",
                            level=level.name,
                            channel=label,
                        )
                    )
                if template and template.model not in TEMPLATE_MODELS:
                    problems.append(
                        self.env._(
                            "The %(channel)s template of level “%(level)s” "
                            "must apply to contacts or invoices.",
                            channel=label,
                            level=level.name,
                        )
                    )
        return problems

    def _get_channels(self):
        channels = super()._get_channels()
        phone_channels = [c for c, send in (("sms", self.send_sms), ("whatsapp", self.send_whatsapp)) if send]
        # Right after the email: written messages first, then activities and actions.
        position = channels.index("email") + 1 if "email" in channels else 0
        return channels[:position] + phone_channels + channels[position:]
