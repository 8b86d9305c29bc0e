from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, plaintext2html

from odoo.addons.dunning_ruler.tools.bulk import bulk_log
from odoo.addons.dunning_ruler.tools.i18n import _lt, set_texts, write_texts

from ..tools.quiet_hours import next_window_opening
from ..tools.sms_segments import sms_normalize_text, sms_segment_info
from .dunning_sms_render_mixin import RENDERING_KEY, DunningSmsRendering

PHONE_CHANNELS = ("sms", "whatsapp")
DELIVERY_STATUSES = [
    ("ready", "Queued"),
    ("process", "Processing"),
    ("pending", "Sent"),
    ("sent", "Delivered"),
    ("bounce", "Bounced"),
    ("exception", "Error"),
    ("canceled", "Cancelled"),
]


def _pending_to_failed(events):
    write_texts(
        events,
        {
            "state": "failed",
            "failure_reason": _lt("Message still waiting when the SMS module was uninstalled."),
        },
    )


class DunningEvent(models.Model):
    _inherit = "dunning.event"

    channel = fields.Selection(
        selection_add=[("email",), ("sms", "SMS"), ("whatsapp", "WhatsApp")],
        ondelete={"sms": "set default", "whatsapp": "set default"},
    )
    state = fields.Selection(selection_add=[("pending", "Pending")], ondelete={"pending": _pending_to_failed})
    phone_number = fields.Char(readonly=True, help="E.164 number the message goes to.")
    phone_number_raw = fields.Char(
        "Number as Entered", readonly=True, help="The number found on the contact."
    )
    scheduled_at = fields.Datetime(
        "Send At",
        readonly=True,
        index="btree_not_null",
        help="When a message waiting for the sending window goes out.",
    )
    sms_uuid = fields.Char(
        "SMS Reference", readonly=True, copy=False, help="Links the event to Odoo's SMS tracking."
    )
    sms_encoding = fields.Selection(
        [("gsm7", "GSM-7"), ("ucs2", "UCS-2 (Unicode)")], string="Encoding", readonly=True
    )
    sms_length = fields.Integer("Length", readonly=True)
    sms_segments = fields.Integer("SMS Parts", readonly=True)
    delivery_status = fields.Selection(DELIVERY_STATUSES, compute="_compute_delivery_status")
    delivery_failure = fields.Char(compute="_compute_delivery_status")

    # The event is the source of truth: one message per event, ever.
    _sms_uuid_unique = models.UniqueIndex("(sms_uuid) WHERE sms_uuid IS NOT NULL")

    @api.depends("sms_uuid")
    def _compute_delivery_status(self):
        uuids = [uuid for uuid in self.mapped("sms_uuid") if uuid]
        trackers = self.env["sms.tracker"].sudo().search([("sms_uuid", "in", uuids)]) if uuids else []
        notification_by_uuid = {tracker.sms_uuid: tracker.mail_notification_id for tracker in trackers}
        failure_labels = dict(
            self.env["mail.notification"]._fields["failure_type"]._description_selection(self.env)
        )
        for event in self:
            notification = notification_by_uuid.get(event.sms_uuid)
            event.delivery_status = notification.notification_status if notification else False
            event.delivery_failure = (
                notification
                and (notification.failure_reason or failure_labels.get(notification.failure_type))
                or False
            )

    @api.model
    def _dunning_message_channels(self):
        """SMS and WhatsApp are messages: one per customer and run, of the highest level."""
        return super()._dunning_message_channels() | set(PHONE_CHANNELS)

    # ------------------------------------------------------------------
    # Dispatch (called by the engine on the events of a batch)
    # ------------------------------------------------------------------
    def _dunning_send_sms(self):
        self._dunning_send_phone("sms")

    def _dunning_send_whatsapp(self):
        self._dunning_send_phone("whatsapp")

    def _dunning_send_phone(self, channel):
        """Check everything that can be checked now, so that failures show in the
        run, then queue the message or let it wait for the sending window."""
        events = self._dunning_phone_skip_duplicates()
        if channel == "whatsapp":
            no_gateway = events.filtered(lambda e: not e.company_id._get_http_gateway("whatsapp"))
            write_texts(
                no_gateway,
                {
                    "state": "failed",
                    "failure_reason": _lt("No WhatsApp gateway is configured for this company."),
                },
            )
            events -= no_gateway
        events = events._dunning_phone_resolve_numbers()
        events = events._dunning_phone_skip_blacklisted()
        events._dunning_phone_release()

    def _dunning_phone_skip_duplicates(self):
        """Skip the events whose invoices all already got a message of this level on
        this channel: whatever happened to the engine's marks or to sms.sms."""
        if not self:
            return self
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT cur.event_id
                  FROM dunning_event_account_move_rel cur
                  JOIN dunning_event e ON e.id = cur.event_id
                 WHERE cur.event_id = ANY(%s)
              GROUP BY cur.event_id, e.level_id, e.channel
                HAVING bool_and(EXISTS(
                       SELECT 1
                         FROM dunning_event_account_move_rel prev_rel
                         JOIN dunning_event prev ON prev.id = prev_rel.event_id
                        WHERE prev_rel.move_id = cur.move_id
                          AND prev.id != cur.event_id
                          AND prev.level_id = e.level_id
                          AND prev.channel = e.channel
                          AND (prev.sms_uuid IS NOT NULL OR prev.state = 'pending')))
                """,
                self.ids,
            )
        )
        duplicates = self.browse(row[0] for row in self.env.cr.fetchall())
        write_texts(
            duplicates,
            {"state": "skipped", "failure_reason": _lt("Already sent at this level for these invoices.")},
        )
        return self - duplicates

    def _dunning_phone_number(self):
        """(raw number, E.164 number, error: a text in every language, see
        dunning_ruler/tools/i18n.py) of the recipient: the invoicing contact
        first, then the customer; on each, the mobile before the phone."""
        self.ensure_one()
        recipient = self._dunning_recipient()
        first_error = None
        for partner in recipient | self.partner_id:
            for fname in partner._phone_get_number_fields():
                raw = partner[fname]
                if not raw:
                    continue
                try:
                    return raw, partner._phone_format(number=raw, raise_exception=True), False
                except UserError as e:
                    first_error = first_error or (raw, e.args[0])
        if first_error:
            raw, error = first_error
            return raw, False, _lt("Invalid number “%(number)s”: %(error)s", number=raw, error=error)
        return False, False, _lt("%s has no mobile or phone number.", recipient.display_name)

    def _dunning_phone_resolve_numbers(self):
        valid, failures = self.browse(), {}
        for event in self:
            raw, number, error = event._dunning_phone_number()
            if number:
                event.write({"phone_number_raw": raw, "phone_number": number})
                valid |= event
            else:
                event.write({"state": "failed", "phone_number_raw": raw})
                failures[event.id] = {"failure_reason": error}
        set_texts(self, failures)
        return valid

    def _dunning_phone_skip_blacklisted(self):
        numbers = [number for number in self.mapped("phone_number") if number]
        if not numbers:
            return self
        blacklisted = set(
            self.env["phone.blacklist"].sudo().search([("number", "in", numbers)]).mapped("number")
        )
        skipped = self.filtered(lambda e: e.phone_number in blacklisted)
        write_texts(
            skipped, {"state": "skipped", "failure_reason": _lt("The number is on the phone blacklist.")}
        )
        return self - skipped

    def _dunning_phone_tz(self):
        self.ensure_one()
        return self._dunning_recipient().tz or self.partner_id.tz or self.company_id.partner_id.tz or "UTC"

    def _dunning_phone_release(self):
        """Queue the messages whose recipient is inside the sending window now; the
        others wait, pending, for the window to open."""
        now = fields.Datetime.now()
        ready = self.browse()
        waiting = defaultdict(lambda: self.browse())
        for event in self:
            company = event.company_id
            opening = next_window_opening(
                now,
                event._dunning_phone_tz(),
                company.dunning_sms_window_start,
                company.dunning_sms_window_end,
                company.dunning_sms_allow_sunday,
            )
            if opening:
                waiting[opening] |= event
            else:
                ready |= event
        for opening, events in waiting.items():
            events.write({"state": "pending", "scheduled_at": opening})
        if waiting:
            self.env.ref("dunning_ruler_sms.ir_cron_dunning_phone_pending").sudo()._trigger(at=min(waiting))
        ready._dunning_phone_queue()

    def _dunning_phone_render_record(self, template):
        self.ensure_one()
        if template.model == "account.move":
            return self._get_sorted_lines()[:1].move_id
        return self.partner_id

    def _dunning_phone_render(self, template):
        """The text of ``template`` for this event, rendered on the customer (or its
        first invoice). The placeholders (``dunning.sms.render.mixin``) state this
        event's installments: it is handed to them as a ``DunningSmsRendering``, which
        no RPC context can hold."""
        self.ensure_one()
        record = self._dunning_phone_render_record(template)
        rendering = DunningSmsRendering(self, record)
        return template.with_context(**{RENDERING_KEY: rendering})._render_field(
            "body", record.ids, compute_lang=True
        )[record.id]

    def _dunning_phone_queue(self):
        """Render the text and put the message in Odoo's SMS queue (sent by its cron
        once this transaction, which also marks the event, is committed)."""
        if not self:
            return
        message_event = {}
        invoice_logs = {}
        channel_labels = dict(self._fields["channel"]._description_selection(self.env))
        failures = {}
        for event in self:
            channel = event.channel
            template = (
                event.level_id.sms_template_id if channel == "sms" else event.level_id.whatsapp_template_id
            )
            try:
                body = event._dunning_phone_render(template)
            except UserError as e:
                # A broken template fails its events, not the whole run.
                event.state = "failed"
                failures[event.id] = {
                    "failure_reason": _lt(
                        "Template “%(template)s”: %(error)s", template=template.name, error=e.args[0]
                    )
                }
                continue
            body = sms_normalize_text(body).strip()
            if not body:
                event.state = "failed"
                failures[event.id] = {
                    "failure_reason": _lt("Template “%s” rendered an empty text.", template.name)
                }
                continue
            recipient = event._dunning_recipient()
            # In the event's company: Odoo picks the SMS provider from the message's company.
            message = event.partner_id.with_company(event.company_id)._message_sms(
                body,
                partner_ids=recipient.ids,
                sms_pid_to_number={recipient.id: event.phone_number},
                put_in_queue=True,
            )
            message_event[message.id] = event
            encoding, length, segments = sms_segment_info(body)
            event.write(
                {
                    "state": "done",
                    "message": plaintext2html(body),
                    "sms_encoding": encoding,
                    "sms_length": length,
                    "sms_segments": segments,
                }
            )
            log = self.env._(
                "Dunning: “%(level)s” sent by %(channel)s to %(number)s.",
                level=event.level_id.name,
                channel=channel_labels[channel],
                number=event.phone_number,
            )
            invoice_logs.update(dict.fromkeys(event.invoice_ids.ids, log))
        set_texts(self, failures)
        all_sms = self.env["sms.sms"].sudo().search([("mail_message_id", "in", list(message_event))])
        for sms in all_sms:
            event = message_event[sms.mail_message_id.id]
            sms.dunning_event_id = event
            event.sms_uuid = sms.uuid
        bulk_log(self.env["account.move"].browse(invoice_logs), invoice_logs)

    # ------------------------------------------------------------------
    # Messages waiting for the sending window
    # ------------------------------------------------------------------
    @api.model
    def _cron_release_pending_phone_messages(self, limit=500):
        autocommit = bool(self.env.context.get("ir_cron_progress_id"))
        while True:
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    """
                    SELECT id FROM dunning_event
                     WHERE state = 'pending' AND scheduled_at <= %s
                  ORDER BY scheduled_at, id
                     LIMIT %s
                       FOR UPDATE SKIP LOCKED
                    """,
                    fields.Datetime.now(),
                    limit,
                )
            )
            events = self.sudo().browse(row[0] for row in self.env.cr.fetchall())
            events._dunning_phone_release_pending()
            if not autocommit or len(events) < limit:
                break
            if not self.env["ir.cron"]._commit_progress(len(events)):
                break

    def _dunning_phone_release_pending(self):
        """Send what still needs sending once the window opened."""
        if not self:
            return
        today = fields.Date.context_today(self)
        paid = self.filtered(lambda e: e.line_ids and all(line.reconciled for line in e.line_ids))
        write_texts(
            paid, {"state": "skipped", "failure_reason": _lt("Paid before the sending window opened.")}
        )
        held = (self - paid).filtered(
            lambda e: (hold := e.partner_id.with_company(e.company_id).dunning_hold_until) and hold > today
        )
        write_texts(
            held,
            {
                "state": "skipped",
                "failure_reason": _lt("Customer put on hold before the sending window opened."),
            },
        )
        (self - paid - held)._dunning_phone_skip_blacklisted()._dunning_phone_release()
