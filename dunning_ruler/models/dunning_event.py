import functools
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.misc import format_date, formatLang

from ..tools.bulk import bulk_fill_tokens, bulk_log
from ..tools.i18n import _lt, field_text, is_text, set_texts, write_texts
from .dunning_mail_batch import Post

CONTACT_TYPES = [("call", "Call"), ("reply", "Customer reply"), ("visit", "Visit"), ("other", "Other")]

CHANNELS = [
    ("email", "Email"),
    ("activity", "Activity"),
    ("letter", "Letter"),
    ("action", "Action"),
    ("manual", "Manual"),
    ("none", "None"),
]


def _notice_memoized(method):
    """What a reminder shows (``method`` of one event), computed once per event and
    language while a channel renders many reminders: it passes a dict in the context
    (``dunning_notice_memo``), so that the subject and the body share each reminder's
    rows and situation instead of computing them again."""

    @functools.wraps(method)
    def memoized(self):
        memo = self.env.context.get("dunning_notice_memo")
        if memo is None:
            return method(self)
        key = (method.__name__, self.id, self.env.lang)
        if key not in memo:
            memo[key] = method(self)
        return memo[key]

    return memoized


class DunningEvent(models.Model):
    """One executed, skipped or failed level on one channel for one customer.

    Events are the audit trail and the source of truth for idempotency: an event is
    written in the same transaction as the message it queues.

    One message per customer, company, run and channel: of the levels a run executes
    for a customer, the highest one using a message channel
    (``_dunning_message_channels``) sends it, listing every open invoice of the
    customer; the event of each lower level on that channel is still recorded, done,
    with ``merged_into_id`` pointing at the event that sent (and its
    ``mail_message_id``). Activities and actions are not messages: each level has
    its own. The levels a first run catches up on (missed, nothing sent) are recorded
    in one event per customer and run, ``skipped_level_ids`` listing them.
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
    # Not summed: the events of a customer state the same debt again and again (and
    # in several currencies), so a total over events means nothing.
    amount_due = fields.Monetary(
        currency_field="currency_id",
        aggregator=None,
        help="Amount owed on the invoices concerned when the event happened.",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    # Written by dunning in every installed language (tools/i18n.py): read in the reader's.
    message = fields.Html(sanitize_style=True, translate=True, help="What was sent, or why nothing was.")
    failure_reason = fields.Text(translate=True)
    mail_message_id = fields.Many2one("mail.message", index="btree_not_null", ondelete="set null")
    merged_into_id = fields.Many2one(
        "dunning.event",
        string="Included In",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The reminder of a higher level, sent the same day, whose message lists this level's invoices.",
    )
    merged_ids = fields.One2many("dunning.event", "merged_into_id", string="Included Levels", readonly=True)
    skipped_level_ids = fields.Many2many(
        "dunning.level",
        "dunning_event_skipped_level_rel",
        "event_id",
        "level_id",
        string="Missed Levels",
        readonly=True,
        help="Levels a run caught up on (a higher one was due at the same time): recorded, never sent.",
    )
    notice_line_ids = fields.Many2many(
        "account.move.line",
        compute="_compute_notice_line_ids",
        string="Listed Installments",
        help="Every open installment of the customer in the company: what its reminder lists.",
    )
    notice_situation = fields.Char(
        compute="_compute_notice_texts",
        help="The situation of the invoices the reminder lists, on its date (e.g. “payment overdue by "
        "4 day(s)”): a placeholder for subjects.",
    )
    notice_service = fields.Char(
        compute="_compute_notice_texts",
        help="What the reminder states about the customer's service, from the decision taken for "
        "that customer in that run (empty: nothing to state).",
    )
    activity_id = fields.Many2one("mail.activity", ondelete="set null")
    origin = fields.Selection(
        [("run", "Scheduled run"), ("manual", "Manual"), ("portal", "Customer")],
        default="run",
        required=True,
        help="Customer: done by the customer on its statement page (a promise to pay).",
    )
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

    @api.model
    def mail_allowed_qweb_expressions(self):
        """The placeholders of the shipped reminder subjects (and the service notice,
        offered beside them), plain field paths: rendered by reading the fields
        (``mail.render.mixin._render_template_inline_template_regex``), not one
        ``safe_eval`` per placeholder and reminder, and usable in a template by someone
        who is not a template editor."""
        return (
            *super().mail_allowed_qweb_expressions(),
            "object.company_id.name",
            "object.notice_situation",
            "object.notice_service",
        )

    @api.model
    def _dunning_message_channels(self):
        """Channels that send the customer a message: one per customer, company, run
        and channel, by the highest level executed that uses it (addons add theirs)."""
        return {"email", "letter"}

    @api.depends("partner_id", "company_id", "line_ids")
    def _compute_notice_line_ids(self):
        """Every dunnable open installment of the event's customer in its company,
        whatever its due date, and the event's own ones still open: one query for the
        events being rendered together."""
        events = self.filtered(lambda e: e.partner_id and e.company_id)
        by_key = events._dunning_executed_lines_by_customer() if events else {}
        Line = self.env["account.move.line"]
        for event in self:
            own = [line.id for line in event.line_ids if not line.reconciled]
            listed = by_key.get((event.partner_id.id, event.company_id.id))
            ids = dict.fromkeys((listed.ids if listed else []) + own)
            event.notice_line_ids = Line.browse(ids)

    @api.depends_context("lang")
    @api.depends("date", "notice_line_ids")
    def _compute_notice_texts(self):
        for event in self:
            event.notice_situation = event._get_notice_situation()["text"]
            event.notice_service = event._get_notice_service_status()["text"]

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
        ``message`` (a string, or a text written in every language: tools/i18n.py);
        ``invoice_ids`` and ``line_ids`` may be lists of ids. Unless given:
        dated today, channel ``manual``, state ``done``, origin ``manual``, done by the
        current user; the amount due and its currency are those of the installments
        (``line_ids``, else the open installments of ``invoice_ids``, as a run's
        events: ``dunning.engine._lines_amount``), else the customer's overdue amount
        in the company."""
        engine = self.env["dunning.engine"]
        Line = self.env["account.move.line"].sudo()
        Move = self.env["account.move"].sudo()
        today = fields.Date.context_today(self)
        create_list, texts = [], []
        for vals in vals_list:
            # texts in every language (tools/i18n.py), written once the events exist
            texts.append({name: value for name, value in vals.items() if is_text(value)})
            vals = {name: value for name, value in vals.items() if name not in texts[-1]}
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
        events = self.sudo().create(create_list)
        set_texts(events, {event.id: text for event, text in zip(events, texts, strict=True) if text})
        return events

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

    def _get_notice_lines(self):
        """The installments a reminder lists: every open one of the customer in the
        company (``notice_line_ids``), by due date."""
        self.ensure_one()
        return self.notice_line_ids.sorted(
            lambda line: (line.date_maturity or self.date, line.move_id.name or "", line.id)
        )

    @_notice_memoized
    def _get_notice_rows(self):
        """[{line, days, status, stage}] of the reminder's table: days overdue (negative:
        days left) on the event date, as text, and the level each installment reached."""
        self.ensure_one()
        rows = []
        for line in self._get_notice_lines():
            days = (self.date - line.date_maturity).days if line.date_maturity and self.date else 0
            if days > 0:
                status = self.env._("%s day(s) overdue", days)
            elif days == 0:
                status = self.env._("due today")
            else:
                status = self.env._("due in %s day(s)", -days)
            rows.append(
                {"line": line, "days": days, "status": status, "stage": line.dunning_level_id.name or ""}
            )
        return rows

    @_notice_memoized
    def _get_notice_situation(self):
        """The situation of the invoices the reminder lists on its date, the most
        pressing one first: {"code", "days", "date", "count", "text", "short", "sentence"}:
        code "overdue"
        (``days``: of the oldest overdue installment), "due_today", "upcoming"
        (``days`` left until ``date``, the nearest due date) or "none" (nothing
        listed). What a reminder's wording about its invoices must follow: a level's
        name or offset says when it was due, not what is true the day it is sent
        (grace days, a first run's catch-up, a reminder listing other invoices)."""
        self.ensure_one()
        rows = self._get_notice_rows()
        overdue = [row for row in rows if row["days"] > 0]
        today = [row for row in rows if row["days"] == 0]
        if overdue:
            days = max(row["days"] for row in overdue)
            code, count = "overdue", len(overdue)
            text = self.env._("payment overdue by %s day(s)", days)
            date = min(row["line"].date_maturity for row in overdue)
        elif today:
            code, days, count, date = "due_today", 0, len(today), self.date
            text = self.env._("payment due today")
        elif rows:
            days = -max(row["days"] for row in rows)
            code, count = "upcoming", len([row for row in rows if row["days"] == -days])
            date = self.date + timedelta(days=days)
            text = self.env._(
                "payment due on %(date)s, in %(days)s day(s)", date=format_date(self.env, date), days=days
            )
        else:
            code, days, count, date, text = "none", 0, 0, False, ""
        short = {
            "overdue": self.env._("%s day(s) overdue", days),
            "due_today": self.env._("due today"),
            "upcoming": self.env._("due in %s day(s)", days),
        }.get(code, "")
        sentence = {
            "overdue": lambda: self.env._(
                "The oldest invoice below is %(days)s day(s) overdue (due on %(date)s).",
                days=days,
                date=format_date(self.env, date),
            ),
            "due_today": lambda: self.env._("Payment is due today."),
            "upcoming": lambda: self.env._(
                "Payment is due on %(date)s, in %(days)s day(s).", date=format_date(self.env, date), days=days
            ),
        }.get(code, str)()
        return {
            "code": code,
            "days": days,
            "date": date,
            "count": count,
            "text": text,
            "short": short,
            "sentence": sentence,
        }

    def _get_notice_service_status(self):
        """What the reminder states about the customer's service: the decision taken
        for that customer in that run, never the level's name. An extension point
        (``dunning_ruler_access``: the platform access) returning

        * ``code``: "none" (nothing to state: the default here), or the addon's
          codes (``dunning_ruler_access``: "restricted", "blocked", "will_restrict",
          "will_block");
        * ``date``: when what is announced happens (False: now or never);
        * ``text``: the sentence to show, in the reader's language ("" for nothing);
        * ``short``: the same in a few words, for phone messages;
        * ``active``: whether the service is unrestricted now (no restriction in
          place or decided): a template promising the service stays active shows
          it only then.

        The run decides before any message renders (``_dunning_prepare_notices``)."""
        self.ensure_one()
        return {"code": "none", "date": False, "text": "", "short": "", "active": True}

    def _dunning_prepare_notices(self):
        """Called by the engine on the events of a run that send, after their levels
        are marked and before any channel renders: an addon whose decision a
        reminder states (``_get_notice_service_status``) takes it here. Nothing to
        do in the core."""
        return

    def _get_notice_totals(self):
        """[(currency, total overdue, total owed)] of the installments the reminder lists."""
        self.ensure_one()
        overdue, owed = defaultdict(float), defaultdict(float)
        for line in self.notice_line_ids:
            owed[line.currency_id] += line.amount_residual_currency
            if line.date_maturity and self.date and line.date_maturity < self.date:
                overdue[line.currency_id] += line.amount_residual_currency
        return [
            (currency, overdue[currency], owed[currency]) for currency in sorted(owed, key=lambda c: c.name)
        ]

    def _get_notice_owed_display(self):
        """The customer's total owed (every installment the reminder lists) as text."""
        self.ensure_one()
        return " + ".join(
            formatLang(self.env, owed, currency_obj=currency)
            for currency, _overdue, owed in self._get_notice_totals()
        )

    def _get_portal_url(self):
        """Absolute link to the customer's statement page, which works from the
        reminder alone (no login): what it owes, each invoice with its pay link, paying
        every overdue invoice at once, promising to pay (``res.partner.
        _dunning_statement_url``)."""
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id.sudo()
        if not partner.dunning_statement_token:
            # Every customer of the events being rendered together at once.
            events = self.browse(self._prefetch_ids)
            self.env["res.partner"]._dunning_set_statement_tokens(events.partner_id.commercial_partner_id)
        return partner._dunning_statement_url(self.company_id)

    @api.model
    def _dunning_set_access_tokens(self, moves):
        """Give ``moves`` their portal access token in one statement (``get_portal_url``
        would write each invoice through ``account.move.write`` while rendering)."""
        bulk_fill_tokens(moves, "access_token")

    def action_open_invoices(self):
        self.ensure_one()
        return self.invoice_ids._dunning_action_open()

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
        """The levels' emails, rendered, posted in the customers' chatters and queued
        by the ``dunning.mail.batch`` service; the events keep what was sent."""
        # The invoices and installments of every event read at once: rendered per
        # template and language, they would be read group by group. (Their portal
        # tokens were set with their level, engine._mark_reached.)
        self.line_ids.fetch()
        # Each reminder lists every open installment of its customer: read at once.
        notice_lines = self.notice_line_ids
        notice_lines.fetch(["move_id", "date_maturity", "amount_residual_currency", "currency_id"])
        self._dunning_set_access_tokens(notice_lines.move_id)
        # The fees each reminder shows, its own and those of the levels it includes.
        (self | self.merged_ids).sudo().fee_ids  # noqa: B018
        (self.invoice_ids | self.line_ids.move_id | notice_lines.move_id).fetch()
        MailBatch = self.env["dunning.mail.batch"]
        by_template = defaultdict(lambda: self.browse())
        for event in self:
            by_template[event.level_id.mail_template_id] |= event
        posts = []
        # Each reminder's rows and situation, computed once for its subject and its body.
        memo = {}
        for template, events in by_template.items():
            template = template.with_context(dunning_notice_memo=memo)
            # Each reminder's language, rendered once for its subject and its body.
            per_lang = template._classify_per_lang(events.ids)
            subjects = {}
            for lang_template, lang_ids in per_lang.values():
                subjects.update(lang_template._render_field("subject", lang_ids))
            bodies = MailBatch._render_bodies(template, events, per_lang=per_lang)
            for event in events:
                recipient = event._dunning_recipient()
                if not recipient.email:
                    write_texts(
                        event,
                        {
                            "state": "failed",
                            "failure_reason": _lt(
                                "%(partner)s has no email address.", partner=recipient.display_name
                            ),
                        },
                    )
                    continue
                posts.append(Post(event, event.partner_id, recipient, subjects[event.id], bodies[event.id]))
        # Queued, never sent inside the run: the mail queue sends them once this
        # transaction, which also holds the events, is committed.
        messages = MailBatch._post_messages(posts)
        invoice_logs, sent = {}, []
        for post in posts:
            event = post.key
            # The message body, sanitised once by its creation: the event keeps what was sent.
            sent.append((event.id, messages[event].id, messages[event].body))
            log = self.env._(
                "Dunning: “%(level)s” sent by email to %(partner)s.",
                level=event.level_id.name,
                partner=post.recipient.display_name,
            )
            # The invoices of the lower levels this reminder includes get their note too.
            for merged in event.merged_ids:
                invoice_logs.update(
                    dict.fromkeys(
                        merged.invoice_ids.ids,
                        self.env._(
                            "Dunning: “%(level)s” included in the “%(sent)s” reminder sent by email to "
                            "%(partner)s.",
                            level=merged.level_id.name,
                            sent=event.level_id.name,
                            partner=post.recipient.display_name,
                        ),
                    )
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
                   SET message = jsonb_build_object('en_US', v.body), mail_message_id = v.message_id,
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
            # The activity is read by the user it is assigned to: in their language.
            as_user = event.with_context(lang=user.lang or self.env.lang)
            vals_list.append(
                {
                    "activity_type_id": level.activity_type_id.id,
                    "summary": level.with_env(as_user.env).activity_summary
                    or level.with_env(as_user.env).name,
                    "automated": True,
                    "note": as_user.env._(
                        "%(count)s invoice(s), %(total)s owed.",
                        count=len(event.invoice_ids),
                        total=as_user._get_total_owed_display(),
                    ),
                    "date_deadline": event.date,
                    "res_model_id": model_id,
                    "res_id": event.partner_id.id,
                    "user_id": user.id,
                }
            )
        # No "assigned to you" email per activity (mail_activity_quick_update): a run
        # may give an agent hundreds at once; they are in the agent's activities.
        activities = self.env["mail.activity"].with_context(mail_activity_quick_update=True).create(vals_list)
        texts = {}
        for event, activity, user in zip(self, activities, users, strict=True):
            event.activity_id = activity
            level = event.level_id
            summary = field_text(level, "activity_summary" if level.activity_summary else "name")
            texts[event.id] = {
                "message": _lt("Activity “%(summary)s” for %(user)s.", summary=summary, user=user.name)
                if user
                else _lt("Activity “%(summary)s”, unassigned.", summary=summary)
            }
        set_texts(self, texts)

    def _dunning_send_action(self):
        """Execute the level's action; modules adding actions implement
        ``_dunning_action_<action>`` on the events."""
        by_action = defaultdict(lambda: self.browse())
        for event in self:
            by_action[event.level_id.action] |= event
        for action, events in by_action.items():
            handler = getattr(events, f"_dunning_action_{action}", None)
            if handler is None:
                write_texts(
                    events,
                    {
                        "state": "failed",
                        "failure_reason": _lt(
                            "Action “%s” is not available: is its module installed?", action
                        ),
                    },
                )
                continue
            handler()

    def _dunning_activity_user(self):
        """Who gets the activity of this event's level: the customer's responsible
        user, the level's assignee after the customer's own and grade's agents
        (``res.partner._dunning_responsible_user``), else the user running the
        dunning; never OdooBot, a portal or an archived user (empty: unassigned)."""
        self.ensure_one()
        return self.partner_id._dunning_responsible_user(
            self.company_id, preferred=self.level_id.activity_user_id, fallback=self.env.user
        )

    def _get_dunning_fees(self):
        """Fees charged for this event's level on its invoices (shown in the reminder).

        A fee is charged once per (level, invoice), by the event that executed the level:
        reading ``fee_ids`` is prefetched for every event of a batch (one query), where a
        search per event would cost one query per message."""
        self.ensure_one()
        # A reminder shows the fees of the lower levels it includes too.
        events = (self | self.merged_ids).sudo()
        return events.fee_ids.sorted(lambda fee: (fee.move_id.id, fee.id))

    def _dunning_executed_lines_by_customer(self, due_until=None):
        """{(customer, company): installments} of the customers of these events: every
        dunnable installment (not in dispute, handed over or arranged), due by
        ``due_until`` when given, read in one query. The hold and the grade are not
        checked again: the run that executed these events' levels did."""
        engine = self.env["dunning.engine"]
        engine._flush_dunnable()
        self.env.cr.execute(
            engine._dunnable_lines_sql(
                SQL("aml.id, aml.company_id, m.commercial_partner_id"),
                company_ids=self.company_id.ids,
                partner_ids=self.partner_id.ids,
                due_until=due_until,
                include_held=True,
                include_undunned=True,
            )
        )
        ids = defaultdict(list)
        for line_id, company_id, partner_id in self.env.cr.fetchall():
            ids[partner_id, company_id].append(line_id)
        Line = self.env["account.move.line"].sudo()
        by_customer = defaultdict(Line.browse)
        by_customer.update({key: Line.browse(line_ids) for key, line_ids in ids.items()})
        return by_customer

    # ------------------------------------------------------------------
    # Level action "hand over"
    # ------------------------------------------------------------------
    def _dunning_action_handover(self):
        """Hand the customers' overdue invoices to the level's agency, and email it a summary."""
        Handover = self.env["dunning.handover"].sudo()
        overdue = self._dunning_executed_lines_by_customer(due_until=max(self.mapped("date")))
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
        texts = {}
        for event, handover in zip(events, handovers, strict=True):
            event.state = "done" if handover.mail_message_id else "failed"
            texts[event.id] = {
                "message": _lt(
                    "%(count)s invoice(s) handed over to %(agency)s.",
                    count=len(handover.invoice_ids),
                    agency=handover.agency_id.display_name,
                ),
                "failure_reason": handover._dunning_failure_text() or False,
            }
        set_texts(self, texts)

    def _dunning_send_letter(self):
        """Record the letters; they are printed in batch later, never lost if nobody prints now."""
        set_texts(
            self,
            {
                event.id: {
                    "message": _lt(
                        "Letter “%(level)s” ready to print: %(count)s invoice(s), %(total)s owed.",
                        level=field_text(event.level_id, "name"),
                        count=len(event.invoice_ids),
                        total=event._get_total_owed_display(),
                    )
                }
                for event in self
            },
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
        by_key = self._dunning_executed_lines_by_customer(due_until=max(self.mapped("date")))
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
        # A letter included in a higher level's letter (same customer and day) is not printed.
        letters = self.filtered(
            lambda e: e.channel == "letter" and e.state == "done" and not e.merged_into_id
        )
        if not letters:
            raise UserError(self.env._("Select dunning events of channel “Letter” that are done."))
        letters.sudo().letter_printed_date = fields.Datetime.now()
        return self.env.ref("dunning_ruler.action_report_dunning_letter").report_action(letters)
