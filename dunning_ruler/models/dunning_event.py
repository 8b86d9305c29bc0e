from collections import defaultdict

from odoo import api, fields, models

CHANNELS = [
    ("email", "Email"),
    ("activity", "Activity"),
    ("action", "Action"),
    ("manual", "Manual"),
    ("none", "None"),
]


class DunningEvent(models.Model):
    """One executed, skipped or failed level on one channel for one customer.

    Events are the audit trail and the source of truth for idempotency: an event is
    written in the same transaction as the message it queues.
    """

    _name = "dunning.event"
    _description = "Dunning Event"
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    date = fields.Date(required=True, index=True, default=fields.Date.context_today)
    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one("res.company", required=True, index=True)
    ruler_id = fields.Many2one("dunning.ruler", index=True, ondelete="set null")
    level_id = fields.Many2one("dunning.level", index=True, ondelete="set null")
    grade_id = fields.Many2one("dunning.grade", index="btree_not_null", ondelete="set null")
    tone = fields.Selection(related="level_id.tone")
    channel = fields.Selection(CHANNELS, required=True, default="none")
    state = fields.Selection(
        [("done", "Done"), ("skipped", "Skipped"), ("failed", "Failed")],
        required=True,
        default="done",
        index=True,
    )
    invoice_ids = fields.Many2many(
        "account.move",
        "dunning_event_account_move_rel",
        "event_id",
        "move_id",
        string="Invoices",
    )
    line_ids = fields.Many2many(
        "account.move.line",
        "dunning_event_account_move_line_rel",
        "event_id",
        "line_id",
        string="Installments",
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count")
    amount_due = fields.Monetary(
        currency_field="currency_id",
        help="Amount owed on the invoices concerned when the event happened.",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    message = fields.Html(sanitize_style=True, help="What was sent, or why nothing was.")
    failure_reason = fields.Text()
    mail_message_id = fields.Many2one("mail.message", index="btree_not_null", ondelete="set null")
    activity_id = fields.Many2one("mail.activity", ondelete="set null")
    origin = fields.Selection([("run", "Scheduled run"), ("manual", "Manual")], default="run", required=True)
    user_id = fields.Many2one("res.users", default=lambda self: self.env.user, string="Done By")

    @api.depends("partner_id", "level_id", "date")
    def _compute_name(self):
        for event in self:
            event.name = " / ".join(
                filter(None, [event.partner_id.display_name, event.level_id.name, str(event.date or "")])
            )

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for event in self:
            event.invoice_count = len(event.invoice_ids)

    # ------------------------------------------------------------------
    # Helpers for templates (mail, sms, letters)
    # ------------------------------------------------------------------
    def _get_sorted_lines(self):
        self.ensure_one()
        return self.line_ids.sorted(lambda line: (line.date_maturity or fields.Date.today(), line.id))

    def _get_totals_by_currency(self):
        """[(currency, amount)] of what is owed on the event's installments, per currency."""
        self.ensure_one()
        totals = defaultdict(float)
        for line in self.line_ids:
            totals[line.currency_id] += line.amount_residual_currency
        return sorted(totals.items(), key=lambda item: item[0].name)

    def _get_total_owed_display(self):
        """The total owed as text, formatted in the partner's language and currencies."""
        self.ensure_one()
        from odoo.tools.misc import formatLang

        return " + ".join(
            formatLang(self.env, amount, currency_obj=currency)
            for currency, amount in self._get_totals_by_currency()
        )

    def _get_portal_url(self):
        """Absolute link to the customer's invoices on the portal, where they can pay."""
        self.ensure_one()
        base = self.get_base_url()
        if len(self.invoice_ids) == 1:
            return base + self.invoice_ids.get_portal_url()
        return base + "/my/invoices"

    def action_open_invoices(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", self.invoice_ids.ids)],
            "name": self.env._("Invoices"),
        }

    # ------------------------------------------------------------------
    # Channel dispatchers: ``dunning.engine`` calls ``_dunning_send_<channel>`` on
    # the events of one batch. Each one sets the outcome on the events themselves.
    # ------------------------------------------------------------------
    def _dunning_recipient(self):
        """The customer's invoicing contact, who receives reminders."""
        self.ensure_one()
        partner = self.partner_id
        return partner.browse(partner.address_get(["invoice"])["invoice"]) or partner

    def _dunning_send_email(self):
        by_template = defaultdict(lambda: self.browse())
        for event in self:
            by_template[event.level_id.mail_template_id] |= event
        invoice_logs = {}
        for template, events in by_template.items():
            subjects = template._render_field("subject", events.ids, compute_lang=True)
            bodies = template._render_field(
                "body_html", events.ids, engine="qweb", compute_lang=True, options={"post_process": True}
            )
            for event in events:
                recipient = event._dunning_recipient()
                if not recipient.email:
                    event.write(
                        {
                            "state": "failed",
                            "failure_reason": self.env._(
                                "%(partner)s has no email address.", partner=recipient.display_name
                            ),
                        }
                    )
                    continue
                body = bodies[event.id]
                # Queued, never sent inside the run: the mail queue sends it once this
                # transaction, which also holds the event, is committed.
                message = event.partner_id.with_context(mail_notify_force_send=False).message_post(
                    body=body,
                    subject=subjects[event.id],
                    partner_ids=recipient.ids,
                    message_type="comment",
                    subtype_xmlid="mail.mt_comment",
                    email_layout_xmlid="mail.mail_notification_light",
                )
                event.write({"message": body, "mail_message_id": message.id})
                for invoice in event.invoice_ids:
                    invoice_logs[invoice.id] = self.env._(
                        "Dunning: “%(level)s” sent by email to %(partner)s.",
                        level=event.level_id.name,
                        partner=recipient.display_name,
                    )
        if invoice_logs:
            self.env["account.move"].browse(invoice_logs)._message_log_batch(bodies=invoice_logs)

    def _dunning_send_activity(self):
        for event in self:
            level = event.level_id
            partner = event.partner_id
            user = level.activity_user_id or partner.user_id or self.env.user
            activity = partner.activity_schedule(
                activity_type_id=level.activity_type_id.id,
                summary=level.activity_summary or level.name,
                note=self.env._(
                    "%(count)s invoice(s), %(total)s owed.",
                    count=len(event.invoice_ids),
                    total=event._get_total_owed_display(),
                ),
                user_id=user.id,
                date_deadline=event.date,
            )
            event.write(
                {
                    "activity_id": activity.id,
                    "message": self.env._(
                        "Activity “%(summary)s” for %(user)s.", summary=activity.summary, user=user.name
                    ),
                }
            )

    def _dunning_send_action(self):
        """Execute the level's action; modules adding actions implement
        ``_dunning_action_<action>`` on the events."""
        by_action = defaultdict(lambda: self.browse())
        for event in self:
            by_action[event.level_id.action] |= event
        for action, events in by_action.items():
            handler = getattr(events, f"_dunning_action_{action}", None)
            if handler is None:
                events.write(
                    {
                        "state": "failed",
                        "failure_reason": self.env._(
                            "Action “%s” is not available: is its module installed?", action
                        ),
                    }
                )
                continue
            handler()
