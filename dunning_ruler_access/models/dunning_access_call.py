import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.dunning_ruler.tools.security import check_technical_fields


class DunningAccessCall(models.Model):
    """One call to a platform, written before it is sent (the outbox)."""

    _name = "dunning.access.call"
    _description = "Access Platform Call"
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
        [
            ("pending", "Pending"),
            ("done", "Done"),
            ("attention", "Needs attention"),
            ("superseded", "Superseded"),
            ("dry_run", "Dry run"),
            ("cancelled", "Cancelled"),
        ],
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
    http_status = fields.Integer(string="HTTP Status", readonly=True)
    response = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
    reason = fields.Text(string="Why", readonly=True)
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
        "event_id",
    )

    _idempotency_key_uniq = models.Constraint(
        "unique(idempotency_key)", "The idempotency key must be unique."
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_technical_fields(self, vals, create=True)
        return super().create(vals_list)

    def write(self, vals):
        check_technical_fields(self, vals)
        return super().write(vals)

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
        platform = self.platform_id
        delay = min(platform.retry_base_seconds * 2 ** max(self.attempts - 1, 0), platform.retry_max_seconds)
        return max(delay, retry_after or 0)

    def _record_result(self, result):
        """Write what the platform answered; returns the summary key."""
        self.ensure_one()
        now = fields.Datetime.now()
        vals = {
            "attempts": self.attempts + 1,
            "last_attempt": now,
            "http_status": result.get("status") or 0,
            "response": result.get("response") or False,
        }
        binding = self.binding_id
        if result["ok"]:
            vals.update(state="done", error=False)
            self.write(vals)
            binding_vals = {"confirmed_state": self.target_state, "confirmed_date": now}
            if self.target_state == "active":
                binding_vals["snapshot"] = False  # restored: the next restriction takes a fresh one
            binding.write(binding_vals)
            self._log_on_partner()
            return "sent"
        if result.get("retry"):
            self.write(vals)  # attempts first: the delay grows with them
            self.write(
                {
                    "error": result["error"],
                    "next_attempt": now + timedelta(seconds=self._retry_delay(result.get("retry_after"))),
                }
            )
            return "retry"
        vals.update(state="attention", error=self._explain(result))
        self.write(vals)
        return "attention"

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
        self.sudo().write({"state": "pending", "next_attempt": fields.Datetime.now()})
        self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger()

    def action_cancel(self):
        self._check_supervisor()
        self.filtered(lambda c: c.state in ("pending", "attention")).sudo().write({"state": "cancelled"})

    def _check_supervisor(self):
        # Same rule as the platform's actions (dunning_access_platform.check_access_manager).
        if not (
            self.env.su
            or self.env.user.has_group("dunning_ruler.group_dunning_supervisor")
            or self.env.user.has_group("base.group_system")
        ):
            raise AccessError(self.env._("Only dunning supervisors can retry or cancel platform calls."))
