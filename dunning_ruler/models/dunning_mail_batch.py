"""Batched email of the dunning reminders: the ``dunning.mail.batch`` service.

A run sends thousands of reminders. Through ``mail.template`` and ``message_post``
each one is parsed, compiled, rendered, sanitised, wrapped in its notification
layout and written record by record. This service does the same work set by set,
for any caller (``dunning.event._dunning_send_email`` is the one today):

* ``_render_bodies(template, records)``: the template's body, compiled once per
  run and rendered record by record, each record in its own QWeb scope, as
  ``mail.render.mixin._render_template_qweb`` renders it;
* ``_post_messages(posts)``: the chatter messages, their queued ``mail.mail``
  and ``mail.notification`` in one INSERT per table (``tools/bulk.py``): the
  records ``message_post`` writes for a customer recipient. Posts that would
  notify anybody else take ``message_post`` itself (``_message_post``);
* ``_LayoutCache``: the notification layout rendered once per language and
  company with placeholders, checked against a standard rendering.

Setting ``dunning_ruler.email_batching`` (system parameter, Invoicing >
Settings > Dunning, on by default): off, every reminder takes Odoo's own path,
``mail.template._render_field`` and one ``message_post`` each.

Odoo internals this service relies on
=====================================
What an Odoo upgrade checks here: the private methods and attributes of Odoo
listed in ``ODOO_PRIVATE_API`` (``test_odoo_private_api_still_exists`` checks
that they exist), and the records written by hand.

* rendering: ``mail.render.mixin`` ``_classify_per_lang``, ``_render_eval_context``,
  ``_render_field``, ``_render_template_postprocess``,
  ``_has_unsafe_expression_template_qweb``, ``_unrestricted_rendering``;
  ``ir.qweb`` ``_render`` and ``_compile``, whose cache for the run
  (``models/ir_qweb.py``) is keyed as Odoo keys its own (``_generate_code_cached``):
  ``ir.qweb._get_template_cache_keys``, ``ir.ui.view._get_template_minimal_cache_keys``;
* posting (as ``mail.thread.message_post`` and ``_message_create`` do):
  ``_message_compute_author``, ``_message_compute_real_author``,
  ``_mail_get_alias_domains``, ``_mail_get_companies``, ``_notify_get_reply_to``,
  ``_message_subscribe``, ``_mail_flat_thread``; ``mail.message._get_message_id``;
  ``mail.followers._get_recipient_data``;
* notifying (as ``mail.thread._notify_thread_by_email`` does):
  ``_notify_get_classified_recipients_iterator``,
  ``_notify_by_email_render_layout``, ``_notify_by_email_get_headers``;
  ``res.lang._lang_get``;
* the chatter notes of ``tools/bulk.py``'s ``bulk_log`` (as ``_message_log_batch``
  writes them): ``_message_compute_author``, ``_notify_get_reply_to``;
* the records written by hand: the columns of ``mail.message`` as
  ``_message_create`` fills them, of ``mail.mail`` (``references``, ``headers``,
  ``is_notification``, ``body_html``) and ``mail.notification`` (``is_read``,
  ``read_date``) as ``_notify_thread_by_email`` and their ``create`` fill them.
  ``test_email_batching_setting_same_records`` compares them, field by field,
  with the records of Odoo's own path.
"""

import logging
import uuid
from collections import defaultdict
from typing import Any, NamedTuple

from lxml import html
from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.tools import SQL, clean_context, formataddr, ormcache, str2bool

from ..tools.bulk import bulk_insert, bulk_link

_logger = logging.getLogger(__name__)

EMAIL_LAYOUT = "mail.mail_notification_light"
BATCHING_PARAM = "dunning_ruler.email_batching"

# {model: Odoo's private methods and attributes used here and in tools/bulk.py}
ODOO_PRIVATE_API = {
    "ir.qweb": ("_render", "_compile", "_generate_code_cached", "_get_template_cache_keys"),
    "ir.ui.view": ("_get_template_minimal_cache_keys",),
    "mail.render.mixin": (
        "_classify_per_lang",
        "_render_eval_context",
        "_render_field",
        "_render_template_postprocess",
        "_has_unsafe_expression_template_qweb",
        "_unrestricted_rendering",
    ),
    "mail.thread": (
        "_message_compute_author",
        "_message_compute_real_author",
        "_mail_get_alias_domains",
        "_mail_get_companies",
        "_notify_get_reply_to",
        "_message_subscribe",
        "_mail_flat_thread",
        "_message_log_batch",
        "_notify_get_classified_recipients_iterator",
        "_notify_by_email_render_layout",
        "_notify_by_email_get_headers",
    ),
    "mail.message": ("_get_message_id",),
    "mail.followers": ("_get_recipient_data",),
    "res.lang": ("_lang_get",),
}


def _memoized(func):
    """``func`` (a pure formatting helper of the rendering context, e.g.
    ``format_amount``) remembering its results by arguments; called through when an
    argument cannot be a key."""
    results = {}

    def memoized(*args, **kwargs):
        try:
            key = (args, tuple(sorted(kwargs.items())))
            return results[key]
        except KeyError:
            value = results[key] = func(*args, **kwargs)
            return value
        except TypeError:  # unhashable argument
            return func(*args, **kwargs)

    return memoized


class Post(NamedTuple):
    """One message to post in a customer's chatter and email to one recipient."""

    key: Any  # the caller's handle (e.g. a dunning.event): key of the results
    partner: Any  # res.partner whose chatter holds the message
    recipient: Any  # res.partner emailed
    subject: str
    body: Markup


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


class DunningMailBatch(models.AbstractModel):
    """Renders, posts and queues many emails at once (see the module's docstring)."""

    _name = "dunning.mail.batch"
    _description = "Dunning: batched emails"

    @api.model
    def _batching_enabled(self):
        """Whether emails are batched (``dunning_ruler.email_batching``, on by default)."""
        value = self.env["ir.config_parameter"].sudo().get_param(BATCHING_PARAM) or "True"
        return str2bool(value.strip(), True)

    @api.model
    def _run_cache(self):
        """What the batches of one run share (compiled templates, layouts): the
        ``dunning_render_cache`` dict the engine passes in the context, else a new one."""
        run_cache = self.env.context.get("dunning_render_cache")
        return {} if run_cache is None else run_cache

    # ------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------
    @api.model
    @ormcache("key", cache="templates")
    def _compiled_body(self, key):
        """(parsed body or None, its compiled QWeb code by compilation key) of the
        body ``key`` = ("body_html", model, source, rendering options): kept with
        Odoo's own compiled views (the "templates" cache, cleared in every worker
        when a view changes; an edited body is another source, another key), so
        that the daily runs of a worker compile each body once, not once per run
        (tens of milliseconds per template and language).

        Odoo renders a body without unsafe expression by a regular expression, not
        by QWeb: so does ``_render_bodies`` (parsed body None). The compiled code
        is filled while rendering (``models/ir_qweb.py``)."""
        _field, model, src, _options = key
        unsafe = self.env["mail.template"]._has_unsafe_expression_template_qweb(src, model)
        return (html.fragment_fromstring(src, create_parent="div") if unsafe else None), {}

    @api.model
    def _render_bodies(self, template, records, per_lang=None):
        """{record id: body of mail.template ``template`` rendered for it}, what
        ``template._render_field("body_html", records.ids, compute_lang=True)`` returns;
        ``per_lang``: the records' ``template._classify_per_lang``, when the caller has it.

        ``mail.render.mixin`` parses and compiles the body for every record (tens of
        milliseconds each); here it is parsed and compiled once per run (the
        ``ir.qweb._compile`` cache of the run, see ``models/ir_qweb.py``), then each
        record is rendered by its own ``ir.qweb._render``, as Odoo does: in its own
        QWeb scope, so that what the template sets for one customer is never seen
        in the next one's email."""
        if not records:
            return {}
        if not self._batching_enabled():
            return template._render_field("body_html", records.ids, compute_lang=True)
        results = {}
        # Compiled templates outlive the batch when the run passes a cache: every
        # batch of a run renders the same few templates.
        run_cache = self._run_cache()
        body_field = template._fields["body_html"]
        for tmpl, res_ids in (per_lang or template._classify_per_lang(records.ids)).values():
            src = tmpl.body_html
            if not src or not res_ids:
                results.update(dict.fromkeys(res_ids, ""))
                continue
            model = tmpl.render_model
            # The options _render_field gives ir.qweb, restricted rendering included.
            options = dict(body_field.render_options or {})
            if (
                not tmpl._unrestricted_rendering
                and not tmpl.env.is_admin()
                and not tmpl.env.user.has_group("mail.group_mail_template_editor")
            ):
                options["raise_on_forbidden_code_for_model"] = model
            key = ("body_html", model, str(src), tuple(sorted(options.items())))
            if key not in run_cache:
                run_cache[key] = self._compiled_body(key)
            root, compile_cache = run_cache[key]
            if root is None:
                results.update(tmpl._render_field("body_html", res_ids))
                continue
            qweb = tmpl.env["ir.qweb"].with_context(dunning_qweb_compile_cache=compile_cache)
            variables = tmpl._render_eval_context()
            # Every row of every reminder formats its due date and amount: the same few
            # dates and amounts, formatted once per language group.
            for name in ("format_date", "format_amount"):
                variables[name] = _memoized(variables[name])
            rendered = {}
            try:
                for record in tmpl.env[model].browse(res_ids):
                    variables["object"] = record
                    # _render renders a copy of the values: one scope per record.
                    rendered[record.id] = qweb._render(root, variables, **options)[5:-6]
            except Exception:
                # Odoo's own rendering of the group, with its own error if it fails
                # too (e.g. a forbidden expression for a restricted user).
                _logger.info(
                    "Batch rendering of %s failed, rendering it the standard way",
                    tmpl.display_name,
                    exc_info=True,
                )
                results.update(tmpl._render_field("body_html", res_ids))
                continue
            results.update(tmpl._render_template_postprocess(model, rendered))
        return results

    # ------------------------------------------------------------------
    # Posting
    # ------------------------------------------------------------------
    @api.model
    def _message_post(self, post):
        """The reference behaviour: one ``message_post`` in the customer's chatter."""
        return post.partner.with_context(mail_notify_force_send=False).message_post(
            body=post.body,
            subject=post.subject,
            partner_ids=post.recipient.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid=EMAIL_LAYOUT,
        )

    @api.model
    def _post_messages(self, posts):
        """Post ``posts`` [Post] in the customers' chatters and queue their emails:
        {post.key: mail.message}.

        Same records as ``_message_post`` (message, queued mail.mail with the
        notification layout, mail.notification, author following the customer), but
        with a number of queries that depends on the batch, not on its size. Posts
        that would notify anybody else than the customer's contact (followers of the
        customer, a recipient who is a user), or all of them when batching is
        switched off, take the reference path.
        """
        if not posts:
            return {}
        if not self._batching_enabled():
            return {post.key: self._message_post(post) for post in posts}
        Partner = self.env["res.partner"]
        partners = Partner.browse(dict.fromkeys(post.partner.id for post in posts))
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        recipient_ids = list({post.recipient.id for post in posts})
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
            data = followers_data.get(post.partner.id, {})
            notified = {
                pid
                for pid, pdata in data.items()
                if pdata["is_follower"] and pdata["active"] and pid != real_author.id
            }
            rdata = recipients_data.get(post.recipient.id)
            if (
                Partner._mail_flat_thread  # would need each message's parent: not batched
                or notified - {post.recipient.id}
                or not rdata
                or rdata["notif"] != "email"
                or not rdata["share"]
            ):
                result[post.key] = self._message_post(post)
            else:
                fast.append((post, rdata))
        if fast:
            result.update(self._post_messages_batch(fast, author_id, email_from, real_author, subtype_id))
        return result

    @api.model
    def _post_messages_batch(self, posts, author_id, email_from, real_author, subtype_id):
        """``_post_messages`` of [(Post, recipient data)] notifying the recipient only."""
        Partner = self.env["res.partner"]
        partners = Partner.browse(dict.fromkeys(post.partner.id for post, _rdata in posts))
        alias_domains = partners.sudo()._mail_get_alias_domains(default_company=self.env.company)
        companies = partners._mail_get_companies(default=self.env.company)
        reply_tos = partners._notify_get_reply_to(default=email_from, author_id=author_id)
        vals_list = []
        for post, _rdata in posts:
            pid = post.partner.id
            vals_list.append(
                {
                    "author_id": author_id,
                    "email_from": email_from,
                    "model": "res.partner",
                    "res_id": pid,
                    "body": post.body,
                    "message_type": "comment",
                    "parent_id": False,  # res.partner threads are not flat
                    "subject": post.subject or False,
                    "subtype_id": subtype_id,
                    "partner_ids": [post.recipient.id],
                    "email_add_signature": True,
                    "email_layout_xmlid": EMAIL_LAYOUT,
                    "record_alias_domain_id": alias_domains[pid].id,
                    "record_company_id": companies[pid].id,
                    "reply_to": reply_tos[pid],
                }
            )
        messages = dict(
            zip((post.key for post, _rdata in posts), self._create_messages(vals_list), strict=True)
        )
        if real_author and not real_author.partner_share:
            partners._message_subscribe(partner_ids=real_author.ids)
        self._queue_mails(posts, messages)
        return messages

    @api.model
    def _create_messages(self, vals_list):
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

    @api.model
    def _queue_mails(self, posts, messages):
        """mail.mail + mail.notification of the messages {post.key: mail.message} of
        ``posts`` [(Post, recipient data)], as mail.thread's ``_notify_thread_by_email``
        creates them for a customer recipient."""
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
        for post, rdata in sorted(posts, key=lambda p: messages[p[0].key].id):
            message = messages[post.key]
            partner = post.partner
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
            notif_partner.append((message, post.recipient.id))
        Mail = self.env["mail.mail"].sudo().with_context(clean_context(self.env.context))
        mails = bulk_insert(Mail, mail_vals)
        bulk_link(
            Mail,
            "recipient_ids",
            [(mail_id, rid) for mail_id, (_message, rid) in zip(mails.ids, notif_partner, strict=True)],
        )
        read_date = fields.Datetime.now()  # what mail.notification.create() sets when read
        bulk_insert(
            self.env["mail.notification"].sudo().with_context(clean_context(self.env.context)),
            [
                {
                    "author_id": message.author_id.id,
                    "is_read": True,
                    "read_date": read_date,
                    "mail_message_id": message.id,
                    "notification_status": "ready",
                    "notification_type": "email",
                    "res_partner_id": recipient_id,
                    "mail_mail_id": mail_id,
                }
                for (message, recipient_id), mail_id in zip(notif_partner, mails.ids, strict=True)
            ],
        )
