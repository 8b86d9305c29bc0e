import logging
import uuid
from collections import defaultdict

from lxml import etree, html
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

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
    origin = fields.Selection(
        [("run", "Scheduled run"), ("manual", "Manual")], default="run", required=True
    )
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
            "name": _("Invoices"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", self.invoice_ids.ids)],
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

    def _dunning_ensure_portal_tokens(self):
        """Give the invoices of these events their portal token in one statement.

        The templates link every invoice to the portal; ``_portal_ensure_token`` would
        otherwise write each token through ``account.move.write`` while rendering (one
        full invoice write, with its line synchronisation, per invoice)."""
        invoices = self.invoice_ids | self.line_ids.move_id
        if not invoices:
            return
        invoices.flush_recordset(["access_token"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_move SET access_token = gen_random_uuid()::text
                 WHERE id = ANY(%s) AND access_token IS NULL
                """,
                invoices.ids,
            )
        )
        invoices.invalidate_recordset(["access_token"])

    def _dunning_render_bodies(self, template):
        """{event id: body of ``template`` rendered for it}, as ``_render_field`` would
        render it, but compiled once per language instead of once per event.

        ``mail.render.mixin`` parses and compiles an inline QWeb template for every
        record (tens of milliseconds each); here the body is wrapped in a loop over the
        events, rendered in one pass and split on a random separator."""
        results = {}
        for tmpl, event_ids in template._classify_per_lang(self.ids).values():
            src = tmpl.body_html
            if not src or not event_ids:
                results.update(dict.fromkeys(event_ids, ""))
                continue
            separator = Markup("<!--dunning-split-%s-->") % uuid.uuid4().hex
            root = html.fragment_fromstring(src, create_parent="div")
            loop = etree.Element("t", {"t-foreach": "dunning_events", "t-as": "object"})
            loop.text, root.text = root.text, None
            for child in list(root):
                loop.append(child)
            etree.SubElement(loop, "t", {"t-out": "dunning_separator"})
            root.append(loop)
            variables = tmpl._render_eval_context()
            variables.update(dunning_events=tmpl.env[tmpl.render_model].browse(event_ids), dunning_separator=separator)
            options = {}
            if not tmpl._unrestricted_rendering and not tmpl.env.is_admin() and not tmpl.env.user.has_group(
                "mail.group_mail_template_editor"
            ):
                options["raise_on_forbidden_code_for_model"] = tmpl.render_model
            try:
                rendered = (
                    tmpl.env["ir.qweb"]
                    .with_context(dunning_qweb_compile_cache={})
                    ._render(root, variables, **options)[5:-6]
                )
            except Exception:  # noqa: BLE001 - the standard path reports it properly
                _logger.info("Batch rendering of %s failed, rendering event per event", tmpl.display_name, exc_info=True)
                results.update(
                    tmpl._render_field("body_html", event_ids, engine="qweb", options={"post_process": True})
                )
                continue
            bodies = rendered.split(separator)[:-1]
            if len(bodies) != len(event_ids):  # the template printed the separator itself?!
                results.update(
                    tmpl._render_field("body_html", event_ids, engine="qweb", options={"post_process": True})
                )
                continue
            results.update(
                tmpl._render_template_postprocess(tmpl.render_model, dict(zip(event_ids, map(Markup, bodies))))
            )
        return results

    def _dunning_send_email(self):
        self._dunning_ensure_portal_tokens()
        by_template = defaultdict(lambda: self.browse())
        for event in self:
            by_template[event.level_id.mail_template_id] |= event
        invoice_logs = {}
        for template, events in by_template.items():
            subjects = template._render_field("subject", events.ids, compute_lang=True)
            bodies = events._dunning_render_bodies(template)
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
                    "message": self.env._("Activity “%(summary)s” for %(user)s.", summary=activity.summary, user=user.name),
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
                        "failure_reason": self.env._("Action “%s” is not available: is its module installed?", action),
                    }
                )
                continue
            handler()
