import logging
import uuid
from collections import defaultdict

from lxml import etree, html
from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, clean_context, formataddr
from odoo.tools.misc import formatLang

from ..tools.bulk import bulk_insert, bulk_link, bulk_log

_logger = logging.getLogger(__name__)

CONTACT_TYPES = [("call", "Call"), ("reply", "Customer reply"), ("visit", "Visit"), ("other", "Other")]
EMAIL_LAYOUT = "mail.mail_notification_light"


class _LayoutCache:
    """Notification layouts of the dunning messages, rendered once per customer
    language and company with placeholders, then filled per message.

    The first message of each group is also rendered the standard way
    (``_notify_by_email_render_layout``) and compared: a layout that does not
    survive the substitution (a customised one showing more of the message) is
    then rendered message per message."""

    def __init__(self, env):
        self.env = env
        # Shared by the batches of a run when it passes a cache (same author, layout
        # and companies from one batch to the next).
        run_cache = env.context.get("dunning_render_cache")
        self.skeletons = {} if run_cache is None else run_cache.setdefault("layouts", {})

    def _standard(self, partner, message, rdata):
        for _lang, render_values, group in partner._notify_get_classified_recipients_iterator(
            message, [rdata]
        ):
            return partner._notify_by_email_render_layout(message, group, render_values=render_values)
        return message.body

    def render(self, partner, message, rdata):
        lang = rdata["lang"] if rdata["lang"] and self.env["res.lang"]._lang_get(rdata["lang"]) else False
        key = (lang, partner._mail_get_companies(default=self.env.company)[partner.id].id)
        if key not in self.skeletons:
            self.skeletons[key] = self._build(partner, message, rdata)
        skeleton = self.skeletons[key]
        if skeleton is None:
            return self._standard(partner, message, rdata)
        return self._fill(skeleton, message)

    def _fill(self, skeleton, message):
        parts, name_ph = skeleton
        name = escape((message.record_name or "").replace("/", "-"))
        values = (
            [escape(message.preview or ""), message.body or ""] if len(parts) == 3 else [message.body or ""]
        )
        out = parts[0]
        for value, part in zip(values, parts[1:], strict=True):
            out += str(value) + part
        return Markup(out.replace(name_ph, str(name)))

    def _build(self, partner, message, rdata):
        token = uuid.uuid4().hex
        body_ph, name_ph = f"dunningbody{token}", f"dunningname{token}"
        fake = message.new({"body": Markup(f"<p>{body_ph}</p>"), "record_name": name_ph}, origin=message)
        rendered = None
        for _lang, render_values, group in partner._notify_get_classified_recipients_iterator(
            message, [rdata], force_record_name=name_ph
        ):
            if group.get("has_button_access"):  # per-record access link: no skeleton
                return None
            rendered = str(
                partner._notify_by_email_render_layout(
                    fake, group, render_values={**render_values, "message": fake}
                )
            )
        if rendered is None:
            return None
        # the body placeholder sits in the body, and as plain text in the preview
        rendered = rendered.replace(f"<p>{body_ph}</p>", body_ph)
        parts = rendered.split(body_ph)
        if len(parts) not in (2, 3):
            return None
        skeleton = (parts, name_ph)
        if str(self._fill(skeleton, message)) != str(self._standard(partner, message, rdata)):
            _logger.info("Dunning: layout %s not reusable, rendered per message", EMAIL_LAYOUT)
            return None
        return skeleton


CHANNELS = [
    ("email", "Email"),
    ("activity", "Activity"),
    ("letter", "Letter"),
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

    reason_id = fields.Many2one(
        "dunning.reason", string="Non-payment Reason", index="btree_not_null", ondelete="restrict"
    )
    contact_type = fields.Selection(
        CONTACT_TYPES,
        string="Contact",
    )
    handover_id = fields.Many2one(
        "dunning.handover", string="Hand-over", ondelete="set null", index="btree_not_null"
    )
    fee_ids = fields.One2many("dunning.fee", "event_id", string="Fees")
    letter_printed_date = fields.Datetime(
        string="Letter Printed On",
        copy=False,
        readonly=True,
        help="Empty: the letter still has to be printed.",
    )

    @api.depends("partner_id", "level_id", "date")
    def _compute_name(self):
        for event in self:
            event.name = self._dunning_event_name(event.partner_id, event.level_id, event.date)

    @api.model
    def _dunning_event_name(self, partner, level, day):
        return " / ".join(filter(None, [partner.display_name, level.name, str(day or "")]))

    @api.depends("invoice_ids")
    def _compute_invoice_count(self):
        for event in self:
            event.invoice_count = len(event.invoice_ids)

    @api.model
    def _dunning_create_manual(self, vals_list):
        """Record what a person did (a hold, a skipped level, a dispute, a contact
        logged, a hand-over cleared, an arrangement agreed or ended): the one way to
        create manual events.

        Each dict holds the event's fields, at least ``partner_id``, ``company_id`` and
        ``message``; ``invoice_ids`` and ``line_ids`` may be lists of ids. Unless given:
        dated today, channel ``manual``, state ``done``, origin ``manual``, done by the
        current user; the amount due and its currency are those of the installments
        (``line_ids``, else the open installments of ``invoice_ids``, as a run's
        events: ``dunning.engine._lines_amount``), else the customer's overdue amount
        in the company."""
        engine = self.env["dunning.engine"]
        Line = self.env["account.move.line"].sudo()
        Move = self.env["account.move"].sudo()
        today = fields.Date.context_today(self)
        create_list = []
        for vals in vals_list:
            vals = dict(vals)
            move_ids = list(vals.pop("invoice_ids", None) or [])
            line_ids = list(vals.pop("line_ids", None) or [])
            if "amount_due" not in vals:
                company = self.env["res.company"].sudo().browse(vals["company_id"])
                lines = Line.browse(line_ids) or Move.browse(move_ids).line_ids.filtered(
                    lambda line: line.display_type == "payment_term" and not line.reconciled
                )
                if lines:
                    amount, currency = engine._lines_amount(lines)
                else:
                    partner = self.env["res.partner"].sudo().browse(vals["partner_id"])
                    amount = partner.with_context(allowed_company_ids=company.ids).dunning_overdue_amount
                    currency = company.currency_id
                vals["amount_due"] = amount
                vals.setdefault("currency_id", currency.id)
            create_list.append(
                {
                    "date": today,
                    "channel": "manual",
                    "state": "done",
                    "origin": "manual",
                    "user_id": self.env.user.id,
                    **vals,
                    "invoice_ids": [fields.Command.set(move_ids)],
                    "line_ids": [fields.Command.set(line_ids)],
                }
            )
        return self.sudo().create(create_list)

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

    def _dunning_render_bodies(self, template):
        """{event id: body of ``template`` rendered for it}, as ``_render_field`` would
        render it, but compiled once per language instead of once per event.

        ``mail.render.mixin`` parses and compiles an inline QWeb template for every
        record (tens of milliseconds each); here the body is wrapped in a loop over the
        events, rendered in one pass and split on a random separator."""
        results = {}
        # Compiled templates outlive the batch when the run passes a cache: every
        # batch of a run renders the same few templates.
        run_cache = self.env.context.get("dunning_render_cache")
        run_cache = {} if run_cache is None else run_cache
        for tmpl, event_ids in template._classify_per_lang(self.ids).values():
            src = tmpl.body_html
            if not src or not event_ids:
                results.update(dict.fromkeys(event_ids, ""))
                continue
            options = {}
            if (
                not tmpl._unrestricted_rendering
                and not tmpl.env.is_admin()
                and not tmpl.env.user.has_group("mail.group_mail_template_editor")
            ):
                options["raise_on_forbidden_code_for_model"] = tmpl.render_model
            key = (str(src), tuple(sorted(options.items())))
            if key not in run_cache:
                root = html.fragment_fromstring(src, create_parent="div")
                loop = etree.Element("t", {"t-foreach": "dunning_events", "t-as": "object"})
                loop.text, root.text = root.text, None
                for child in list(root):
                    loop.append(child)
                etree.SubElement(loop, "t", {"t-out": "dunning_separator"})
                root.append(loop)
                run_cache[key] = (root, {})
            root, compile_cache = run_cache[key]
            separator = Markup("<!--dunning-split-%s-->") % uuid.uuid4().hex
            variables = tmpl._render_eval_context()
            variables.update(
                dunning_events=tmpl.env[tmpl.render_model].browse(event_ids), dunning_separator=separator
            )
            try:
                rendered = (
                    tmpl.env["ir.qweb"]
                    .with_context(dunning_qweb_compile_cache=compile_cache)
                    ._render(root, variables, **options)[5:-6]
                )
            except Exception:
                _logger.info(
                    "Batch rendering of %s failed, rendering event per event",
                    tmpl.display_name,
                    exc_info=True,
                )
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
                tmpl._render_template_postprocess(
                    tmpl.render_model, dict(zip(event_ids, map(Markup, bodies), strict=True))
                )
            )
        return results

    def _dunning_send_email(self):
        # The invoices and installments of every event read at once: rendered per
        # template and language, they would be read group by group. (Their portal
        # tokens were set with their level, engine._mark_reached.)
        self.line_ids.fetch()
        (self.invoice_ids | self.line_ids.move_id).fetch()
        by_template = defaultdict(lambda: self.browse())
        for event in self:
            by_template[event.level_id.mail_template_id] |= event
        posts = []
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
                posts.append((event, recipient, subjects[event.id], bodies[event.id]))
        # Queued, never sent inside the run: the mail queue sends them once this
        # transaction, which also holds the events, is committed.
        messages = self._dunning_post_messages(posts)
        invoice_logs, sent = {}, []
        for event, recipient, _subject, _body in posts:
            # The message body, sanitised once by its creation: the event keeps what was sent.
            sent.append((event.id, messages[event].id, messages[event].body))
            log = self.env._(
                "Dunning: “%(level)s” sent by email to %(partner)s.",
                level=event.level_id.name,
                partner=recipient.display_name,
            )
            invoice_logs.update(dict.fromkeys(event.invoice_ids.ids, log))
        self._dunning_set_sent_messages(sent)
        bulk_log(self.env["account.move"].browse(invoice_logs), invoice_logs)

    def _dunning_set_sent_messages(self, sent):
        """Store [(event id, mail.message id, safe body)] on the events in one statement."""
        if not sent:
            return
        event_ids, message_ids, bodies = zip(*sent, strict=True)
        self.flush_model(["message", "mail_message_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE dunning_event e
                   SET message = v.body, mail_message_id = v.message_id,
                       write_uid = %s, write_date = now() at time zone 'UTC'
                  FROM unnest(%s::int[], %s::int[], %s::text[]) AS v(event_id, message_id, body)
                 WHERE e.id = v.event_id
                """,
                self.env.uid,
                list(event_ids),
                list(message_ids),
                [str(body or "") for body in bodies],
            )
        )
        events = self.browse(event_ids)
        events.invalidate_recordset(["message", "mail_message_id", "write_uid", "write_date"])
        events.modified(["message", "mail_message_id"])

    def _dunning_message_post(self, recipient, subject, body):
        """The reference behaviour: one ``message_post`` in the customer's chatter."""
        self.ensure_one()
        return self.partner_id.with_context(mail_notify_force_send=False).message_post(
            body=body,
            subject=subject,
            partner_ids=recipient.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid=EMAIL_LAYOUT,
        )

    def _dunning_post_messages(self, posts):
        """Post ``posts`` [(event, recipient, subject, body)] in the customers' chatters
        and queue their emails: {event: mail.message}.

        Same records as ``_dunning_message_post`` (message, queued mail.mail with the
        notification layout, mail.notification, author following the customer), but
        with a number of queries that depends on the batch, not on its size. Posts
        that would notify anybody else than the customer's contact (followers of the
        customer, a recipient who is a user) take the reference path.
        """
        if not posts:
            return {}
        Partner = self.env["res.partner"]
        partners = Partner.browse(dict.fromkeys(event.partner_id.id for event, *_rest in posts))
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        recipient_ids = list({recipient.id for _event, recipient, *_rest in posts})
        # Followers per customer, and the recipients' data, in two queries: given both
        # at once, _get_recipient_data copies every recipient into every customer's
        # entry (quadratic in the batch size).
        Followers = self.env["mail.followers"]
        followers_data = Followers._get_recipient_data(partners, "comment", subtype_id)
        recipients_data = Followers._get_recipient_data(Partner, "comment", subtype_id, recipient_ids)[0]
        author_id, email_from = Partner._message_compute_author(None, None)
        real_author = Partner._message_compute_real_author(author_id)
        fast, result = [], {}
        for post in posts:
            event, recipient = post[0], post[1]
            data = followers_data.get(event.partner_id.id, {})
            notified = {
                pid
                for pid, pdata in data.items()
                if pdata["is_follower"] and pdata["active"] and pid != real_author.id
            }
            rdata = recipients_data.get(recipient.id)
            if (
                Partner._mail_flat_thread  # would need each message's parent: not batched
                or notified - {recipient.id}
                or not rdata
                or rdata["notif"] != "email"
                or not rdata["share"]
            ):
                result[event] = event._dunning_message_post(*post[1:])
            else:
                fast.append((event, recipient, post[2], post[3], rdata))
        if fast:
            result.update(
                self._dunning_post_messages_batch(fast, author_id, email_from, real_author, subtype_id)
            )
        return result

    def _dunning_post_messages_batch(self, posts, author_id, email_from, real_author, subtype_id):
        Partner = self.env["res.partner"]
        partners = Partner.browse(dict.fromkeys(event.partner_id.id for event, *_rest in posts))
        alias_domains = partners.sudo()._mail_get_alias_domains(default_company=self.env.company)
        companies = partners._mail_get_companies(default=self.env.company)
        reply_tos = partners._notify_get_reply_to(default=email_from, author_id=author_id)
        vals_list = []
        for event, recipient, subject, body, _rdata in posts:
            pid = event.partner_id.id
            vals_list.append(
                {
                    "author_id": author_id,
                    "email_from": email_from,
                    "model": "res.partner",
                    "res_id": pid,
                    "body": body,
                    "message_type": "comment",
                    "parent_id": False,  # res.partner threads are not flat
                    "subject": subject or False,
                    "subtype_id": subtype_id,
                    "partner_ids": [recipient.id],
                    "email_add_signature": True,
                    "email_layout_xmlid": EMAIL_LAYOUT,
                    "record_alias_domain_id": alias_domains[pid].id,
                    "record_company_id": companies[pid].id,
                    "reply_to": reply_tos[pid],
                }
            )
        messages = dict(
            zip((post[0] for post in posts), self._dunning_create_messages(vals_list), strict=True)
        )
        if real_author and not real_author.partner_share:
            partners._message_subscribe(partner_ids=real_author.ids)
        self._dunning_queue_mails(posts, messages)
        return messages

    def _dunning_create_messages(self, vals_list):
        """``mail.message`` records of ``vals_list`` (as given to ``_message_create``) in
        one INSERT: each body is sanitised once, the way the message's body field does."""
        Message = self.env["mail.message"].sudo().with_context(clean_context(self.env.context))
        body_field = Message._fields["body"]
        rows, links = [], []
        for vals in vals_list:
            row = {key: value for key, value in vals.items() if key != "partner_ids"}
            row["body"] = body_field.convert_to_column(vals.get("body") or "", Message)
            row["message_id"] = row.get("message_id") or Message._get_message_id(vals)
            rows.append(row)
            links.append(vals.get("partner_ids") or [])
        messages = bulk_insert(Message, rows)
        bulk_link(
            Message,
            "partner_ids",
            [(mid, pid) for mid, pids in zip(messages.ids, links, strict=True) for pid in pids],
        )
        return messages.sudo(False).with_env(self.env)

    def _dunning_queue_mails(self, posts, messages):
        """mail.mail + mail.notification of the messages, as mail.thread's
        ``_notify_thread_by_email`` creates them for a customer recipient."""
        all_messages = self.env["mail.message"].sudo().browse(m.id for m in messages.values())
        all_messages.fetch(["body", "record_name", "message_id", "subject", "record_alias_domain_id"])
        partners = all_messages.mapped(lambda m: m.res_id)
        # Previous messages of the threads, for the References header (threading in
        # the customer's mail client): the 32 latest per customer, one query.
        self.env.cr.execute(
            SQL(
                """
                SELECT m.res_id, m.id, m.message_id, m.message_type,
                       COALESCE(m.is_internal, FALSE) OR COALESCE(st.internal, FALSE) AS internal
                  FROM (SELECT DISTINCT res_id FROM unnest(%s::int[]) AS res_id) p
                  JOIN LATERAL (
                        SELECT * FROM mail_message mm
                         WHERE mm.model = 'res.partner' AND mm.res_id = p.res_id
                           AND mm.subtype_id IS NOT NULL AND mm.message_id IS NOT NULL
                           AND mm.id != ALL(%s)
                      ORDER BY mm.id DESC LIMIT 32) m ON TRUE
             LEFT JOIN mail_message_subtype st ON st.id = m.subtype_id
                """,
                partners,
                all_messages.ids,
            )
        )
        history = defaultdict(list)
        for res_id, mid, message_id, message_type, internal in sorted(
            self.env.cr.fetchall(), key=lambda r: r[1]
        ):
            history[res_id].append((mid, message_id, message_type, internal))
        outgoing_types = ("comment", "auto_comment", "email", "email_outgoing")
        layouts = _LayoutCache(self.env)
        mail_vals, notif_partner = [], []
        for event, recipient, _subject, _body, rdata in sorted(posts, key=lambda p: messages[p[0]].id):
            message = messages[event]
            partner = event.partner_id
            ancestors = history[partner.id][-32:]
            best = sorted(
                ancestors,
                key=lambda a: (
                    not a[3],
                    a[2] in outgoing_types,
                    a[2] not in ("user_notification", "out_of_office"),
                ),
                reverse=True,
            )[:3]
            references = " ".join([a[1] for a in sorted(best)] + [message.message_id])
            history[partner.id].append((message.id, message.message_id, "comment", False))
            headers = {}
            if rdata["active"] and rdata["email_normalized"]:
                headers["X-Msg-To-Add"] = formataddr((rdata["name"], rdata["email_normalized"]))
            if message.record_alias_domain_id.bounce_email:
                headers["Return-Path"] = message.record_alias_domain_id.bounce_email
            headers = partner._notify_by_email_get_headers(headers=headers)
            vals = {
                "mail_message_id": message.id,
                "references": references,
                "auto_delete": True,
                "body_html": layouts.render(partner, message, rdata),
                # mail.mail.create() would mark it as a notification of its message
                "is_notification": True,
            }
            if headers:
                vals["headers"] = repr(headers)
            mail_vals.append(vals)
            notif_partner.append((message, recipient.id))
        Mail = self.env["mail.mail"].sudo().with_context(clean_context(self.env.context))
        mails = bulk_insert(Mail, mail_vals)
        bulk_link(
            Mail,
            "recipient_ids",
            [(mail_id, rid) for mail_id, (_message, rid) in zip(mails.ids, notif_partner, strict=True)],
        )
        bulk_insert(
            self.env["mail.notification"].sudo().with_context(clean_context(self.env.context)),
            [
                {
                    "author_id": message.author_id.id,
                    "is_read": True,
                    "mail_message_id": message.id,
                    "notification_status": "ready",
                    "notification_type": "email",
                    "res_partner_id": recipient_id,
                    "mail_mail_id": mail_id,
                }
                for (message, recipient_id), mail_id in zip(notif_partner, mails.ids, strict=True)
            ],
        )

    def _dunning_send_activity(self):
        """The levels' activities, created in one batch (what ``activity_schedule``
        creates, one ``create`` for all events)."""
        if self.env.context.get("mail_activity_automation_skip"):
            return
        model_id = self.env["ir.model"]._get("res.partner").id
        vals_list, users = [], []
        for event in self:
            level = event.level_id
            user = event._dunning_activity_user()
            users.append(user)
            vals_list.append(
                {
                    "activity_type_id": level.activity_type_id.id,
                    "summary": level.activity_summary or level.name,
                    "automated": True,
                    "note": self.env._(
                        "%(count)s invoice(s), %(total)s owed.",
                        count=len(event.invoice_ids),
                        total=event._get_total_owed_display(),
                    ),
                    "date_deadline": event.date,
                    "res_model_id": model_id,
                    "res_id": event.partner_id.id,
                    "user_id": user.id,
                }
            )
        activities = self.env["mail.activity"].create(vals_list)
        for event, activity, user in zip(self, activities, users, strict=True):
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

    def _dunning_activity_user(self):
        """Activities go to the customer's responsible agent first, then to the level's
        assignee, the salesperson, and the user running the dunning."""
        self.ensure_one()
        partner = self.partner_id.with_company(self.company_id)
        return (
            partner._dunning_default_agent()
            or self.level_id.activity_user_id
            or partner.user_id
            or self.env.user
        )

    def _get_dunning_fees(self):
        """Fees charged for this event's level on its invoices (shown in the reminder).

        A fee is charged once per (level, invoice), by the event that executed the level:
        reading ``fee_ids`` is prefetched for every event of a batch (one query), where a
        search per event would cost one query per message."""
        self.ensure_one()
        return self.sudo().fee_ids.sorted(lambda fee: (fee.move_id.id, fee.id))

    # ------------------------------------------------------------------
    # Level action "hand over"
    # ------------------------------------------------------------------
    def _dunning_action_handover(self):
        """Hand the customers' overdue invoices to the level's agency, and email it a summary."""
        Handover = self.env["dunning.handover"].sudo()
        # Every dunnable overdue installment of the customers (the run that executes
        # this level checked their hold and grade).
        engine = self.env["dunning.engine"]
        engine._flush_dunnable()
        self.env.cr.execute(
            engine._dunnable_lines_sql(
                SQL("aml.id"),
                company_ids=self.company_id.ids,
                partner_ids=self.partner_id.ids,
                due_until=max(self.mapped("date")),
                include_held=True,
                include_undunned=True,
            )
        )
        lines = self.env["account.move.line"].sudo().browse(row[0] for row in self.env.cr.fetchall())
        overdue = defaultdict(lambda: lines.browse())
        for line in lines:
            overdue[line.move_id.commercial_partner_id.id, line.company_id.id] |= line
        vals_list, events = [], []
        for event in self:
            moves = event.invoice_ids.filtered(lambda m: not m.dunning_handover_id)
            moves |= (
                overdue[event.partner_id.id, event.company_id.id]
                .filtered(lambda line, d=event.date: line.date_maturity <= d)
                .move_id
            )
            vals_list.append(
                {
                    "partner_id": event.partner_id.id,
                    "company_id": event.company_id.id,
                    "agency_id": event.level_id.handover_partner_id.id,
                    "level_id": event.level_id.id,
                    "date": event.date,
                    "invoice_ids": [fields.Command.set(moves.ids)],
                    "amount": sum(moves.mapped("amount_residual_signed")),
                    "currency_id": event.company_id.currency_id.id,
                }
            )
            events.append(event)
        # Recorded (hand-over, invoices marked, event linked) before the summary is queued.
        handovers = Handover.create(vals_list)
        for event, handover in zip(events, handovers, strict=True):
            handover.invoice_ids.write({"dunning_handover_id": handover.id})
            event.write({"handover_id": handover.id})
        handovers._send_summary()
        for event, handover in zip(events, handovers, strict=True):
            event.write(
                {
                    "message": self.env._(
                        "%(count)s invoice(s) handed over to %(agency)s.",
                        count=len(handover.invoice_ids),
                        agency=handover.agency_id.display_name,
                    ),
                    "state": "done" if handover.mail_message_id else "failed",
                    "failure_reason": handover.failure_reason or False,
                }
            )

    def _dunning_send_letter(self):
        """Record the letters; they are printed in batch later, never lost if nobody prints now."""
        for event in self:
            event.message = self.env._(
                "Letter “%(level)s” ready to print: %(count)s invoice(s), %(total)s owed.",
                level=event.level_id.name,
                count=len(event.invoice_ids),
                total=event._get_total_owed_display(),
            )
        self.partner_id._message_log_batch(
            bodies={
                event.partner_id.id: self.env._("Dunning: letter “%s” to print.", event.level_id.name)
                for event in self
            }
        )

    # ------------------------------------------------------------------
    # Letter content
    # ------------------------------------------------------------------
    def _get_letter_lines_map(self):
        """{event id: open installments to list in its letter}: the installments of the
        level plus every other one of the customer overdue on the event date, read in
        one search for the whole batch."""
        if not self:
            return {}
        # The dunnable installments (not in dispute, handed over or arranged); the
        # hold and the grade were the run's to check: the letter's level was executed.
        engine = self.env["dunning.engine"]
        engine._flush_dunnable()
        self.env.cr.execute(
            engine._dunnable_lines_sql(
                SQL("aml.id"),
                company_ids=self.company_id.ids,
                partner_ids=self.partner_id.ids,
                due_until=max(self.mapped("date")),
                include_held=True,
                include_undunned=True,
            )
        )
        lines = self.env["account.move.line"].sudo().browse(row[0] for row in self.env.cr.fetchall())
        by_key = defaultdict(lambda: lines.browse())
        for line in lines:
            by_key[(line.move_id.commercial_partner_id.id, line.company_id.id)] |= line
        result = {}
        for event in self:
            candidates = by_key[(event.partner_id.id, event.company_id.id)].filtered(
                lambda line, d=event.date: line.date_maturity <= d
            )
            own = event.line_ids.filtered(lambda line: not line.reconciled)
            result[event.id] = (candidates | own).sorted(
                lambda line: (line.date_maturity, line.move_id.name or "")
            )
        return result

    @api.model
    def _letter_totals(self, lines):
        totals = defaultdict(float)
        for line in lines:
            totals[line.currency_id] += line.amount_residual_currency
        return sorted(totals.items(), key=lambda item: item[0].name)

    def action_print_letters(self):
        """Print the letters of the selected events (one per customer and level) in one PDF."""
        letters = self.filtered(lambda e: e.channel == "letter" and e.state == "done")
        if not letters:
            raise UserError(self.env._("Select dunning events of channel “Letter” that are done."))
        letters.sudo().letter_printed_date = fields.Datetime.now()
        return self.env.ref("dunning_ruler.action_report_dunning_letter").report_action(letters)
