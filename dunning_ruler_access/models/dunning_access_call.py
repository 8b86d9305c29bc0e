import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.dunning_ruler.tools.i18n import _lt, translations

from .dunning_access_platform import check_access_manager

_logger = logging.getLogger(__name__)

CALL_STATES = [
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("done", "Done"),
    ("attention", "Needs attention"),
    ("superseded", "Superseded"),
    ("dry_run", "Dry run"),
    ("cancelled", "Cancelled"),
]
#: a call in one of these states is still on its way (or waits for a person)
OPEN_STATES = ("pending", "sending", "attention")


class DunningAccessCall(models.Model):
    """One call to a platform, written before it is sent (the outbox)."""

    _name = "dunning.access.call"
    _description = "Access Platform Call"
    _inherit = ("dunning.technical.mixin",)
    _order = "id desc"
    _check_company_auto = True

    binding_id = fields.Many2one("dunning.access.binding", required=True, index=True, ondelete="cascade")
    platform_id = fields.Many2one(related="binding_id.platform_id", store=True, index=True)
    partner_id = fields.Many2one(related="binding_id.partner_id", store=True, index=True)
    company_id = fields.Many2one(related="binding_id.company_id", store=True, index=True)
    external_ref = fields.Char(related="binding_id.external_ref")
    action = fields.Selection(
        [("restrict", "Restrict"), ("block", "Block"), ("unblock", "Unblock")], required=True, readonly=True
    )
    target_state = fields.Selection(
        [("active", "Active"), ("restricted", "Restricted"), ("blocked", "Blocked")],
        required=True,
        readonly=True,
    )
    state = fields.Selection(
        CALL_STATES,
        default="pending",
        required=True,
        index=True,
        readonly=True,
    )
    payload = fields.Text(readonly=True)
    idempotency_key = fields.Char(required=True, readonly=True, copy=False)
    attempts = fields.Integer(readonly=True)
    next_attempt = fields.Datetime(default=fields.Datetime.now, required=True, index=True, readonly=True)
    last_attempt = fields.Datetime(readonly=True)
    queued_date = fields.Datetime(
        default=fields.Datetime.now,
        readonly=True,
        help="When the call was queued (or retried by hand): the platform's maximum age counts from it.",
    )
    lease_until = fields.Datetime(
        readonly=True,
        copy=False,
        help="While sending: when the worker's claim expires. A call still sending after it "
        "(a killed worker) is queued again.",
    )
    http_status = fields.Integer(string="HTTP Status", readonly=True)
    response = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
    # Written in every installed language (dunning_ruler/tools/i18n.py): read in the reader's.
    reason = fields.Text(string="Why", readonly=True, translate=True)
    user_id = fields.Many2one(
        "res.users", string="Queued By", default=lambda self: self.env.user, readonly=True
    )
    event_id = fields.Many2one("dunning.event", readonly=True, ondelete="set null", index="btree_not_null")

    # A call is written by dunning and the outbox only (as superuser).
    _TECHNICAL_FIELDS = (
        "binding_id",
        "action",
        "target_state",
        "state",
        "payload",
        "idempotency_key",
        "attempts",
        "next_attempt",
        "last_attempt",
        "http_status",
        "response",
        "error",
        "reason",
        "user_id",
        "lease_until",
        "queued_date",
        "event_id",
    )

    _idempotency_key_uniq = models.Constraint(
        "unique(idempotency_key)", "The idempotency key must be unique."
    )
    # Coalescing: one call waiting per account, and one in flight; the latest wish wins.
    _one_pending_per_binding = models.UniqueIndex("(binding_id) WHERE state = 'pending'")
    _one_sending_per_binding = models.UniqueIndex("(binding_id) WHERE state = 'sending'")

    @api.model
    def _action_view(self, domain):
        """The calls of ``domain``, as a list (a platform's, an account's)."""
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.access.call",
            "view_mode": "list,form",
            "domain": domain,
            "name": self.env._("Access calls"),
        }

    @api.depends("action", "external_ref", "platform_id")
    def _compute_display_name(self):
        labels = dict(self._fields["action"]._description_selection(self.env))
        for call in self:
            call.display_name = (
                f"{labels.get(call.action, '')} {call.platform_id.name or ''}:{call.external_ref or ''}"
            )

    def _get_payload(self):
        self.ensure_one()
        return dict(json.loads(self.payload or "{}"), idempotency_key=self.idempotency_key)

    def _retry_delay(self, retry_after=None):
        """Seconds before the next attempt: the platform's backoff (base doubled on
        every attempt, capped), or the platform's ``Retry-After`` when longer, capped
        by the same maximum."""
        platform = self.platform_id
        cap = platform.retry_max_seconds
        exponent = min(max(self.attempts - 1, 0), 32)
        delay = min(platform.retry_base_seconds * 2**exponent, cap)
        try:
            retry_after = min(max(int(retry_after or 0), 0), cap)
        except (TypeError, ValueError, OverflowError):
            retry_after = 0
        return max(delay, retry_after)

    def _retry_exhausted(self, now):
        """Why this call stops retrying by itself (the platform's maximum attempts or
        age reached), or False."""
        platform = self.platform_id
        if platform.retry_max_attempts and self.attempts >= platform.retry_max_attempts:
            return self.env._(
                "Gave up after %(attempts)s attempts (the platform's maximum).", attempts=self.attempts
            )
        if (
            platform.retry_max_age_hours
            and (self.queued_date or self.create_date) + timedelta(hours=platform.retry_max_age_hours) <= now
        ):
            return self.env._(
                "Gave up after %(hours)s hours of attempts (the platform's maximum age), "
                "%(attempts)s attempts.",
                hours=platform.retry_max_age_hours,
                attempts=self.attempts,
            )
        return False

    def _queued_behind(self):
        """The call of the same account waiting behind this one (a later decision)."""
        self.ensure_one()
        return self.search(
            [("binding_id", "=", self.binding_id.id), ("state", "=", "pending"), ("id", "!=", self.id)],
            limit=1,
        )

    def _record_result(self, result):
        """Write what the platform answered; returns the summary key.

        Whatever the outcome, the account converges: a call queued behind this one (a
        decision taken while it was in flight) is due at once, and when the platform
        confirmed a state no longer desired without any call queued, one is queued."""
        self.ensure_one()
        now = fields.Datetime.now()
        status = result.get("status")
        vals = {
            "attempts": self.attempts + 1,
            "last_attempt": now,
            "lease_until": False,
            "http_status": status if isinstance(status, int) and 0 <= status < 1000 else 0,
            "response": str(result.get("response") or "")[:2000] or False,
        }
        binding = self.binding_id
        behind = self._queued_behind()
        if result.get("ok"):
            vals.update(state="done", error=False)
            self.write(vals)
            binding_vals = {"confirmed_state": self.target_state, "confirmed_date": now}
            if self.target_state == "active":
                binding_vals["snapshot"] = False  # restored: the next restriction takes a fresh one
            binding.write(binding_vals)
            self._log_on_partner()
            key = "sent"
        elif behind:
            # A later decision waits behind this call: it is the one to send now.
            error = result.get("error") or self._explain(result)
            vals.update(
                state="superseded",
                error=self.env._("Superseded by a later decision while in flight. It had failed: %s", error),
            )
            self.write(vals)
            key = "retry"
        elif result.get("retry"):
            self.write(vals)  # attempts first: the delay and the limits grow with them
            gave_up = self._retry_exhausted(now)
            if gave_up:
                self.write({"state": "attention", "error": f"{gave_up} {result.get('error') or ''}".strip()})
                self._schedule_attention_activity()
                key = "attention"
            else:
                self.write(
                    {
                        "state": "pending",
                        "error": result.get("error"),
                        "next_attempt": now + timedelta(seconds=self._retry_delay(result.get("retry_after"))),
                    }
                )
                key = "retry"
        else:
            vals.update(state="attention", error=self._explain(result))
            self.write(vals)
            self._schedule_attention_activity()
            key = "attention"
        if behind:
            behind.write({"next_attempt": now})
        binding._ensure_converging()
        return key

    def _schedule_attention_activity(self):
        """A to-do for the person who fixes it: the platform's attention user, else the
        company's dunning supervisors; one open to-do per customer and user."""
        self.ensure_one()
        partner = self.partner_id.sudo()
        users = self.platform_id.attention_user_id
        if not users:
            group = self.env.ref("dunning_ruler.group_dunning_supervisor")
            users = group.sudo().user_ids.filtered(
                lambda u: u.active and not u.share and self.company_id in u.company_ids
            )
        if not users:
            return
        # Read by the user it is assigned to: in their language (one to-do, whatever its language).
        summary = _lt("Platform access call needs attention")
        todo = self.env.ref("mail.mail_activity_data_todo")
        existing = (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("activity_type_id", "=", todo.id),
                    ("summary", "in", list(set(translations(self.env, summary).values()))),
                    ("user_id", "in", users.ids),
                ]
            )
            .user_id
        )
        for user in (users - existing)[:5]:
            lang = user.lang or self.env.lang or "en_US"
            partner.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary._translate(lang),
                note=self.with_context(lang=lang).env._(
                    "%(call)s: %(error)s", call=self.display_name, error=self.error or ""
                ),
                user_id=user.id,
            )

    def _explain(self, result):
        status, platform = result.get("status"), self.platform_id.name
        if result.get("explained"):
            # The adapter said what is wrong in plain words (e.g. Traccar's permissions).
            return self.env._("%(platform)s: %(error)s", platform=platform, error=result["error"])
        if status == 401:
            return self.env._(
                "%(platform)s rejected the credentials (HTTP 401): check the user and password "
                "or the token of the platform.",
                platform=platform,
            )
        if status == 404:
            return self.env._(
                "Account %(ref)s does not exist on %(platform)s (HTTP 404): "
                "check the account reference of %(partner)s.",
                ref=self.external_ref,
                platform=platform,
                partner=self.partner_id.name,
            )
        if status == 400:
            return self.env._(
                "%(platform)s refused the request (HTTP 400), "
                "usually a permission the platform user lacks: %(body)s",
                platform=platform,
                body=(result.get("response") or "")[:300],
            )
        return self.env._(
            "%(platform)s refused the request (%(error)s): %(body)s",
            platform=platform,
            error=result.get("error"),
            body=(result.get("response") or "")[:300],
        )

    def _log_on_partner(self):
        labels = dict(self._fields["target_state"]._description_selection(self.env))
        body = self.env._(
            "Access on %(platform)s (%(ref)s): %(state)s. %(reason)s",
            platform=self.platform_id.name,
            ref=self.external_ref,
            state=labels[self.target_state],
            reason=self.reason or "",
        )
        self.partner_id.sudo()._message_log(body=body)

    @api.model
    def _schedule_next_run(self):
        """Wake the outbox cron up for the earliest retry."""
        nxt = self.sudo().search([("state", "=", "pending")], order="next_attempt", limit=1)
        if nxt:
            self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger(
                max(nxt.next_attempt, fields.Datetime.now())
            )

    def action_retry(self):
        """After fixing the cause (credentials, account reference), send again now."""
        self._check_supervisor()
        for call in self:
            if call.state != "attention":
                raise UserError(self.env._("Only calls that need attention can be retried."))
            newer = self.search(
                [
                    ("binding_id", "=", call.binding_id.id),
                    ("id", ">", call.id),
                    ("state", "in", ("pending", "done")),
                ],
                limit=1,
            )
            if newer:
                raise UserError(self.env._("A later call superseded this one."))
        now = fields.Datetime.now()
        # A fresh round of attempts: the platform's limits count from now.
        self.sudo().write({"state": "pending", "next_attempt": now, "queued_date": now, "attempts": 0})
        self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger()

    def action_cancel(self):
        """A person decides not to send: the account is not queued again until the
        decision changes (the convergence repair leaves a cancelled wish alone)."""
        self._check_supervisor()
        self.filtered(lambda c: c.state in ("pending", "attention")).sudo().write({"state": "cancelled"})

    def _check_supervisor(self):
        check_access_manager(
            self.env, self.env._("Only dunning supervisors can retry or cancel platform calls.")
        )

    @api.model
    def _recover_expired_leases(self):
        """Calls still ``sending`` after their lease (a worker killed or crashed while
        sending): queued again, or superseded when a later decision waits behind."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM dunning_access_call
                 WHERE state = 'sending' AND lease_until < %s
                   FOR UPDATE SKIP LOCKED
                """,
                fields.Datetime.now(),
            )
        )
        expired = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        for call in expired:
            error = self.env._(
                "The worker sending this call stopped before recording the answer (lease expired)."
            )
            if call._queued_behind():
                call.write({"state": "superseded", "lease_until": False, "error": error})
            else:
                call.write(
                    {
                        "state": "pending",
                        "lease_until": False,
                        "attempts": call.attempts + 1,
                        "next_attempt": fields.Datetime.now(),
                        "error": error,
                    }
                )
        if expired:
            _logger.warning("Access outbox: %s call(s) recovered after an expired lease", len(expired))
        return expired

    @api.model
    def _purge_old_calls(self, limit=5000):
        """Remove the finished calls older than each company's retention. The
        customer's chatter keeps the history of what the platform confirmed."""
        now = fields.Datetime.now()
        removed = 0
        companies = self.env["res.company"].sudo().search([("dunning_access_call_retention_days", ">", 0)])
        for company in companies:
            days = company.dunning_access_call_retention_days
            old = self.sudo().search(
                [
                    ("company_id", "=", company.id),
                    ("state", "not in", OPEN_STATES),
                    ("create_date", "<", now - timedelta(days=days)),
                ],
                limit=limit,
            )
            removed += len(old)
            old.unlink()
        if removed:
            _logger.info("Access outbox: %s call(s) past their retention removed", removed)
        return removed
