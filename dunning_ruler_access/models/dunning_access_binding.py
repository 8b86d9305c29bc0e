import json
import logging
import uuid
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.dunning_ruler.tools.i18n import Format, _lt, field_text, render, set_texts, write_texts

from .dunning_access_call import OPEN_STATES
from .dunning_access_platform import check_access_manager

# Bindings created or changed at once whose account is checked on the platform there and
# then (an import of more is checked with the action "Check account").
CHECK_LIMIT = 50

_logger = logging.getLogger(__name__)

TARGETS = [("active", "Active"), ("restricted", "Restricted"), ("blocked", "Blocked")]
TARGET_RANK = {"active": 0, "restricted": 1, "blocked": 2}
ACCESS_STATES = [
    ("active", "Active"),
    ("trusted", "Provisionally unblocked"),
    ("pending_restriction", "Restriction pending"),
    ("restricted", "Restricted"),
    ("pending_block", "Block pending"),
    ("blocked", "Blocked"),
    ("pending_unblock", "Unblock pending"),
]
# Most restrictive first matters for res.partner.access_state: an unblock that has not
# reached the platform still leaves the customer restricted there.
ACCESS_RANK = {
    "active": 0,
    "trusted": 1,
    "pending_restriction": 2,
    "pending_unblock": 3,
    "restricted": 4,
    "pending_block": 5,
    "blocked": 6,
}


class DunningAccessBinding(models.Model):
    """A customer's account on a platform, with the state dunning wants for it and
    the state the platform last confirmed."""

    _name = "dunning.access.binding"
    _description = "Platform Account of a Customer"
    _inherit = ("dunning.technical.mixin",)
    _order = "partner_id, platform_id"
    _check_company_auto = True
    _rec_name = "external_ref"

    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade", domain="[('is_company', '=', True)]"
    )
    platform_id = fields.Many2one(
        "dunning.access.platform", required=True, index=True, ondelete="restrict", check_company=True
    )
    company_id = fields.Many2one(related="platform_id.company_id", store=True, index=True)
    platform_kind = fields.Selection(related="platform_id.kind")
    external_ref = fields.Char(
        string="Account Reference",
        required=True,
        help="The customer's reference on the platform (Traccar: the user id).",
    )
    active = fields.Boolean(default=True)
    desired_state = fields.Selection(
        TARGETS, required=True, default="active", readonly=True, help="What dunning wants on the platform."
    )
    confirmed_state = fields.Selection(
        TARGETS, required=True, default="active", readonly=True, help="What the platform last confirmed."
    )
    confirmed_date = fields.Datetime(readonly=True)
    access_state = fields.Selection(ACCESS_STATES, compute="_compute_access_state", store=True, index=True)
    # Written in every installed language (dunning_ruler/tools/i18n.py): read in the reader's.
    state_reason = fields.Char(readonly=True, translate=True, help="Why dunning wants the current state.")
    trust_until = fields.Date(
        string="Trusted Until",
        readonly=True,
        help="Provisional unblock (e.g. payment announced) until this date.",
    )
    trust_note = fields.Char(readonly=True)
    snapshot = fields.Text(
        readonly=True,
        help="What the platform's adapter kept before the first restriction, restored on unblock "
        "(Traccar: the flags of each user).",
    )
    call_ids = fields.One2many("dunning.access.call", "binding_id", string="Calls")
    account_check = fields.Selection(
        [("found", "Found"), ("missing", "Not found"), ("unchecked", "Not checked")],
        readonly=True,
        copy=False,
        help="Whether the platform knows the account reference, checked when it is set.",
    )
    account_check_message = fields.Char(readonly=True, copy=False)
    account_name = fields.Char(string="Name on the Platform", readonly=True, copy=False)
    needs_attention = fields.Boolean(compute="_compute_needs_attention")

    # Written by dunning and the outbox only (as superuser), never over RPC below system administrator.
    _TECHNICAL_FIELDS = (
        "desired_state",
        "confirmed_state",
        "confirmed_date",
        "state_reason",
        "trust_until",
        "trust_note",
        "snapshot",
    )

    _ref_uniq = models.Constraint(
        "unique(platform_id, external_ref)", "This account is already linked to a customer on this platform."
    )

    @api.model_create_multi
    def create(self, vals_list):
        bindings = super().create(vals_list)
        bindings._check_account_auto()
        return bindings

    def write(self, vals):
        res = super().write(vals)
        if "external_ref" in vals or "platform_id" in vals:
            self._check_account_auto()
        return res

    @api.depends("desired_state", "confirmed_state", "trust_until")
    def _compute_access_state(self):
        today = fields.Date.context_today(self)
        for binding in self:
            desired, confirmed = binding.desired_state, binding.confirmed_state
            if desired == confirmed:
                trusted = desired == "active" and binding.trust_until and binding.trust_until >= today
                binding.access_state = "trusted" if trusted else desired
            elif TARGET_RANK[desired] < TARGET_RANK[confirmed]:
                binding.access_state = "pending_unblock"
            else:
                binding.access_state = f"pending_{'block' if desired == 'blocked' else 'restriction'}"

    def _compute_needs_attention(self):
        attention = (
            self.env["dunning.access.call"]
            .search([("binding_id", "in", self.ids), ("state", "=", "attention")])
            .binding_id
        )
        for binding in self:
            binding.needs_attention = binding in attention

    @api.depends("partner_id", "platform_id", "external_ref")
    def _compute_display_name(self):
        for binding in self:
            binding.display_name = f"{binding.platform_id.name or ''}: {binding.external_ref or ''}"

    # ------------------------------------------------------------------
    # What each account should be
    # ------------------------------------------------------------------
    def _compute_targets(self, today, assume=None, days=None):
        """{binding: (target, reason)} from the customer's open invoices and the guards;
        the reason is a text in every language (dunning_ruler/tools/i18n.py).

        The one decision of what an account should be: the runs' level actions, the
        hourly check, and what reminders and the manual step announce beforehand
        (``dunning.event._get_notice_service_status``, the manual wizard's warnings).
        ``assume``: {customer id: (rank, level id)}, a level the customer is taken to
        reach (1 restricts, 2 blocks) on top of those its invoices reached: what would
        happen if it did. ``days``: {customer id: date} to decide on instead of
        ``today`` (trust, hold and the notice before a block are checked on it).

        Batched per company: a handful of queries whatever the number of customers."""
        result = {}
        days = days or {}
        self.env.flush_all()
        for company, bindings in self.grouped("company_id").items():
            partners = bindings.partner_id.commercial_partner_id
            # Highest access action over the levels the customer's installments reached, on
            # the installments dunning still acts on (the engine's one definition: a
            # hand-over, a payment arrangement or a grade without dunning lift the
            # restriction as they stop a run), but for disputes, which lift it only when a
            # supervisor made or confirmed them (issue 15), and holds, which only stop
            # further restriction (below).
            self.env["dunning.engine"]._flush_dunnable()
            self.env.cr.execute(
                self.env["dunning.engine"]._dunnable_lines_sql(
                    SQL(
                        """m.commercial_partner_id,
                           MAX(CASE lvl.action WHEN 'block' THEN 2 WHEN 'restrict' THEN 1 ELSE 0 END),
                           (ARRAY_AGG(lvl.id ORDER BY lvl.offset_days DESC))[1]"""
                    ),
                    company_ids=company.ids,
                    partner_ids=partners.ids,
                    include_disputed=True,
                    include_held=True,
                    joins=SQL("JOIN dunning_level lvl ON lvl.id = m.dunning_level_id"),
                    where=SQL(
                        "AND (m.dunning_excluded IS NOT TRUE OR m.dunning_dispute_lifts_access IS NOT TRUE)"
                    ),
                    tail=SQL("GROUP BY m.commercial_partner_id"),
                )
            )
            levels = {pid: (rank, level_id) for pid, rank, level_id in self.env.cr.fetchall()}
            for pid, (rank, level_id) in (assume or {}).items():
                if rank > levels.get(pid, (0, None))[0]:
                    levels[pid] = (rank, level_id)
            self.env.cr.execute(
                SQL(
                    """
                    SELECT p.id, (p.dunning_hold_until ->> c.id::text)::date, g.exempt_from_restriction,
                           g.id, r.min_amount
                      FROM res_partner p
                      JOIN res_company c ON c.id = %(company)s
                 LEFT JOIN dunning_grade g
                        ON g.id = COALESCE(
                               (p.dunning_grade_id ->> c.id::text)::int, c.dunning_default_grade_id
                           )
                 LEFT JOIN dunning_ruler r ON r.id = g.ruler_id
                     WHERE p.id = ANY(%(partners)s)
                    """,
                    company=company.id,
                    partners=partners.ids,
                )
            )
            infos = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            min_pairs = {(company.id, pid) for pid, info in infos.items() if info[3]}
            balances = self.env["dunning.engine"]._partner_balances(min_pairs)
            notice_days = company.dunning_block_notice_days
            latest_day = max([today, *(days.get(pid, today) for pid in partners.ids)])
            self.env.cr.execute(
                SQL(
                    """
                    SELECT partner_id, MIN(date) FROM dunning_event
                     WHERE company_id = %s AND partner_id = ANY(%s) AND state = 'done'
                       AND channel NOT IN ('action', 'none', 'manual') AND date <= %s
                  GROUP BY partner_id
                    """,
                    company.id,
                    partners.ids,
                    latest_day - timedelta(days=notice_days),
                )
            )
            # customer: the first notice sent (a block needs one notice_days before)
            first_notice = dict(self.env.cr.fetchall())
            # Rendered in each language with the reason's sentence around them (tools/i18n.py).
            level_names = {
                lvl.id: field_text(lvl, "display_name")
                for lvl in self.env["dunning.level"].sudo().browse({lid for _r, lid in levels.values()})
            }
            grade_names = {
                grade.id: field_text(grade, "name")
                for grade in self.env["dunning.grade"]
                .sudo()
                .browse({info[2] for info in infos.values() if info[1]})
            }
            for binding in bindings:
                pid = binding.partner_id.commercial_partner_id.id
                day = days.get(pid, today)
                noticed = pid in first_notice and first_notice[pid] <= day - timedelta(days=notice_days)
                rank, level_id = levels.get(pid, (0, None))
                hold_until, exempt, grade_id, min_amount = infos.get(pid, (None, False, None, 0))
                target = ("active", "restricted", "blocked")[rank]
                reason = (
                    _lt("Level %s reached", level_names.get(level_id))
                    if rank
                    else _lt("No invoice at a restricting level")
                )
                if binding.trust_until and binding.trust_until >= day:
                    target, reason = (
                        "active",
                        _lt("Provisionally unblocked until %s", binding.trust_until),
                    )
                elif rank and exempt:
                    target, reason = (
                        "active",
                        _lt("Grade %s is exempt from restriction", grade_names.get(grade_id)),
                    )
                elif rank and min_amount and balances.get((company.id, pid), 0.0) < min_amount:
                    target, reason = (
                        "active",
                        _lt("Balance below the ruler's minimum of %s", min_amount),
                    )
                else:
                    if target == "blocked" and not noticed:
                        target = "restricted"
                        reason = _lt(
                            "Not blocked: no dunning notice sent at least %s days before", notice_days
                        )
                    if (
                        hold_until
                        and hold_until > day
                        and TARGET_RANK[target] > TARGET_RANK[binding.desired_state]
                    ):
                        target = binding.desired_state
                        reason = _lt("On hold until %s: no further restriction", hold_until)
                result[binding] = (target, reason)
        return result

    def _notice_decisions(self, today):
        """{(customer, company): (target, next target, its date)} of these accounts'
        customers on ``today``: the most restrictive target the decision gives them
        now (``_compute_targets``, the runs' one decision), and the restriction or
        block their next access level would bring if they do not pay (None, None
        when there is none or a guard would keep it from happening: exempt grade,
        balance below the ruler's minimum, provisional unblock or hold on that day).

        The next access level is the first level with a restricting action of the
        customer's ruler beyond the one each dunnable installment reached, on the day
        a run executes it (grace days and paused days included; after the
        customer's hold). What a reminder announces before it is sent."""
        bindings = self.sudo().filtered(lambda b: b.active and b.platform_id.active)
        if not bindings:
            return {}
        current = defaultdict(lambda: "active")
        for binding, (target, _reason) in bindings._compute_targets(today).items():
            key = (binding.partner_id.commercial_partner_id.id, binding.company_id.id)
            current[key] = max(current[key], target, key=TARGET_RANK.get)
        upcoming = bindings._next_access_levels(today)
        result = {key: (target, None, None) for key, target in current.items()}
        for company, company_bindings in bindings.grouped("company_id").items():
            assume, days = {}, {}
            for (partner_id, company_id), (rank, level_id, day) in upcoming.items():
                if company_id == company.id and rank > TARGET_RANK[current[partner_id, company_id]]:
                    assume[partner_id], days[partner_id] = (rank, level_id), day
            predicted = defaultdict(lambda: "active")
            # Restricted for want of notice while a block level is reached: blocked once this
            # reminder is notice enough (the hourly check, _cron_sync_access).
            notice_day = today + timedelta(days=company.dunning_block_notice_days)
            for binding in company_bindings:
                key = (binding.partner_id.commercial_partner_id.id, company.id)
                if current[key] == "restricted" and key[0] not in assume:
                    days[key[0]] = notice_day
            if not days:
                continue
            for binding, (target, _reason) in company_bindings._compute_targets(
                today, assume=assume, days=days
            ).items():
                pid = binding.partner_id.commercial_partner_id.id
                predicted[pid] = max(predicted[pid], target, key=TARGET_RANK.get)
            for pid, day in days.items():
                key = (pid, company.id)
                if TARGET_RANK[predicted[pid]] > TARGET_RANK[current[key]]:
                    result[key] = (current[key], predicted[pid], day)
        return result

    def _next_access_levels(self, today):
        """{(customer, company): (rank, level id, date)}: the first level with an
        access action (rank 1 restricts, 2 blocks) each of these accounts' customers
        reaches after ``today`` if nothing is paid, from the engine's ladders and
        dunnable installments (one query per call)."""
        engine = self.env["dunning.engine"].sudo()
        company_ids = self.company_id.ids
        ladders = engine._ladders(company_ids)
        ranks = {"restrict": 1, "block": 2}
        actions = {
            level.id: ranks.get(level.action, 0)
            for level in self.env["dunning.level"]
            .sudo()
            .browse({lid for ladder in ladders.values() for lid in ladder[1]})
        }
        partners = self.partner_id.commercial_partner_id
        engine._flush_dunnable()
        # A hold postpones the level, it does not cancel it: held customers are read too.
        self.env.cr.execute(
            engine._open_lines_query(today, company_ids, partners.ids, None, include_held=True)
        )
        found = {}
        for _line, _move, company_id, partner_id, grade_id, days, reached in self.env.cr.fetchall():
            ladder = ladders.get((grade_id, company_id))
            if not ladder:
                continue
            _ruler, level_ids, offsets, shifts = ladder
            for index, level_id in enumerate(level_ids):
                if actions[level_id] and (reached is None or offsets[index] > reached):
                    day = today + timedelta(days=max(shifts[index] - days, 1))
                    key = (partner_id, company_id)
                    if key not in found or (day, -actions[level_id]) < (found[key][2], -found[key][0]):
                        found[key] = (actions[level_id], level_id, day)
                    break
        # The holds (per company): one read per company for all the customers.
        holds = {
            (partner.id, company_id): partner.dunning_hold_until
            for company_id in {company_id for _partner_id, company_id in found}
            for partner in partners.with_company(company_id)
        }
        for (partner_id, company_id), (rank, level_id, day) in list(found.items()):
            hold = holds[partner_id, company_id]
            if hold and hold > day:
                found[partner_id, company_id] = (rank, level_id, hold)
        return found

    def _sync(self, today=None, why=None, events=None):
        """Bring the desired state of these accounts up to date and queue the calls.

        ``events``: {binding: dunning.event} that caused it, kept on the calls.
        Returns {binding: (target, reason)}."""
        today = fields.Date.to_date(today) or fields.Date.context_today(self)
        bindings = self.sudo().filtered(lambda b: b.active and b.platform_id.active)
        bindings.filtered(lambda b: b.trust_until and b.trust_until < today).write({"trust_until": False})
        targets = bindings._compute_targets(today)
        queued = self.env["dunning.access.call"]
        for binding, (target, reason) in targets.items():
            event = (events or {}).get(binding)
            queued |= binding._set_desired(
                target, reason if not why else Format("%s: %s", why, reason), event=event
            )
        queued |= self._requeue_diverged(bindings.ids)
        if queued:
            self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger()
        return targets

    def _set_desired(self, target, reason, event=None, force=False):
        """Queue the call that takes the platform to ``target``. A call waiting (or
        waiting for a person) for another state is superseded: only the latest wish is
        ever sent. A call in flight is never touched: the new one is queued behind it
        and sent as soon as it ends, whatever its outcome."""
        self.ensure_one()
        Call = self.env["dunning.access.call"].sudo()
        if target == self.desired_state and not force:
            # Nothing new: a call in flight stays, a failed one waits for a person.
            if self.with_context(lang="en_US").state_reason != render(reason, "en_US"):
                write_texts(self, {"state_reason": reason})
            return Call
        waiting = Call.search([("binding_id", "=", self.id), ("state", "in", ("pending", "attention"))])
        waiting.filtered(lambda c: c.state == "pending").write(
            {"state": "superseded", "error": self.env._("Superseded by a later decision: %s", target)}
        )
        waiting.filtered(lambda c: c.state == "attention").write({"state": "superseded"})
        write_texts(self, {"desired_state": target, "state_reason": reason})
        in_flight = Call.search([("binding_id", "=", self.id), ("state", "=", "sending")], limit=1)
        # Where the platform is heading: what the call in flight asks, else what it confirmed.
        heading = in_flight.target_state if in_flight else self.confirmed_state
        if target == heading and not force:
            return Call
        return self._queue_call(target, reason, event=event)

    def _queue_call(self, target, reason, event=None):
        """``reason``: a text in every language (dunning_ruler/tools/i18n.py) or a
        string; the platform receives it in English."""
        self.ensure_one()
        action = "unblock" if target == "active" else ("block" if target == "blocked" else "restrict")
        call = (
            self.env["dunning.access.call"]
            .sudo()
            .create(
                {
                    "binding_id": self.id,
                    "action": action,
                    "target_state": target,
                    "event_id": event.id if event else False,
                    "idempotency_key": str(uuid.uuid4()),
                    "payload": json.dumps(
                        self._build_payload(action, target, render(reason, "en_US") or False, event),
                        sort_keys=True,
                    ),
                }
            )
        )
        set_texts(call, {call.id: {"reason": reason}})
        return call

    def _ensure_converging(self):
        """After a call ended: the platform confirmed a state that is no longer the
        desired one and nothing is on its way there: queue the call back."""
        queued = self.env["dunning.access.call"].sudo()
        for binding in self:
            if binding.desired_state == binding.confirmed_state or not binding.active:
                continue
            if queued.search_count([("binding_id", "=", binding.id), ("state", "in", OPEN_STATES)], limit=1):
                continue
            queued |= binding._queue_call(binding.desired_state, field_text(binding, "state_reason"))
        return queued

    @api.model
    def _requeue_diverged(self, binding_ids=None):
        """The convergence rule, repaired: every account whose desired state differs
        from the confirmed one has a call pending, in flight or waiting for a person.
        Re-queues the others (a crash, a killed worker, a call left in dry run after dry
        run was turned off...), except a wish a person cancelled. Platforms in dry run
        or archived are left alone."""
        where = SQL("TRUE") if binding_ids is None else SQL("b.id = ANY(%s)", list(binding_ids))
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT b.id
                  FROM dunning_access_binding b
                  JOIN dunning_access_platform p ON p.id = b.platform_id
                 WHERE %s
                   AND b.active AND p.active AND p.dry_run IS NOT TRUE
                   AND b.desired_state != b.confirmed_state
                   AND NOT EXISTS (
                        SELECT 1 FROM dunning_access_call c
                         WHERE c.binding_id = b.id AND c.state IN %s)
                   AND NOT EXISTS (
                        SELECT 1 FROM dunning_access_call c
                         WHERE c.binding_id = b.id AND c.state = 'cancelled'
                           AND c.target_state = b.desired_state
                           AND c.id = (SELECT MAX(id) FROM dunning_access_call WHERE binding_id = b.id))
                 ORDER BY b.id
                """,
                where,
                OPEN_STATES,
            )
        )
        bindings = self.sudo().browse([row[0] for row in self.env.cr.fetchall()])
        queued = self.env["dunning.access.call"].sudo()
        for binding in bindings:
            reason = _lt(
                "Queued again: the platform has not confirmed this state and no call was on its way. %s",
                field_text(binding, "state_reason"),
            )
            queued |= binding._queue_call(binding.desired_state, reason)
        if queued:
            _logger.info("Access: %s account(s) queued again to converge", len(queued))
            self.env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox").sudo()._trigger()
        return queued

    def _build_payload(self, action, target, reason, event=None):
        partner = self.partner_id.commercial_partner_id.with_company(self.company_id)
        invoices = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "=", partner.id),
                    ("company_id", "=", self.company_id.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("not_paid", "partial")),
                ],
                order="invoice_date_due, id",
            )
        )
        level = event.level_id if event else partner.dunning_level_id
        return {
            "event": f"access.{action}",
            "account_ref": self.external_ref,
            "target_state": target,
            "customer": {"id": partner.id, "name": partner.name, "vat": partner.vat or None},
            "level": {"name": level.name, "offset_days": level.offset_days} if level else None,
            "reason": reason,
            "amount_owed": round(sum(invoices.mapped("amount_residual_signed")), 2),
            "currency": self.company_id.currency_id.name,
            "invoices": [
                {
                    "number": inv.name,
                    "due_date": fields.Date.to_string(inv.invoice_date_due),
                    "amount_residual": inv.amount_residual,
                    "currency": inv.currency_id.name,
                }
                for inv in invoices
            ],
        }

    # ------------------------------------------------------------------
    # Snapshot kept by the platform's adapter
    # ------------------------------------------------------------------
    def _get_snapshot(self):
        self.ensure_one()
        return json.loads(self.snapshot or "{}")

    def _set_snapshot(self, snapshot):
        self.ensure_one()
        self.snapshot = json.dumps(snapshot, sort_keys=True) if snapshot else False

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_resync(self):
        check_access_manager(self.env)
        self._sync(why=_lt("Manual synchronisation"))

    def action_view_calls(self):
        self.ensure_one()
        return self.env["dunning.access.call"]._action_view([("binding_id", "=", self.id)])

    # ------------------------------------------------------------------
    # The account on the platform
    # ------------------------------------------------------------------
    def _check_account_auto(self):
        """A reference the platform does not know is flagged as soon as it is set."""
        if self.env.context.get("dunning_access_skip_check") or len(self) > CHECK_LIMIT:
            return
        self._check_account()

    def _check_account(self):
        """Ask the platform whether it knows each account; never raises."""
        for binding in self:
            platform = binding.platform_id
            if not platform.active or platform.dry_run:
                continue
            result = platform._get_platform_api().check_account(binding.external_ref)
            if result["ok"]:
                vals = {
                    "account_check": "found" if result["exists"] else "missing",
                    "account_check_message": result.get("message") or False,
                    "account_name": result.get("name") or False,
                }
            elif result.get("error", "").endswith("checking an account"):
                continue  # this kind of platform cannot tell
            else:
                vals = {
                    "account_check": "unchecked",
                    "account_check_message": result.get("error") or False,
                    "account_name": False,
                }
            binding.sudo().write(vals)

    def action_check_account(self):
        self._check_account()

    def action_find_on_platform(self):
        """Link this binding to the account whose email or login is the customer's email."""
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id
        email = (partner.email or "").strip()
        if not email:
            raise UserError(self.env._("%s has no email to look the account up with.", partner.display_name))
        ref = self.platform_id._find_account(email)
        if not ref:
            raise UserError(
                self.env._(
                    "No account of %(platform)s has the email or login %(email)s.",
                    platform=self.platform_id.name,
                    email=email,
                )
            )
        if ref != self.external_ref:
            self.external_ref = ref
        else:
            self._check_account()
        return True

    @api.model
    def _cron_sync_access(self):
        """Daily safety net: expired provisional unblocks, holds that ended, notices old
        enough to allow a block. Then send what that queued."""
        Call = self.env["dunning.access.call"].sudo()
        Call._recover_expired_leases()
        bindings = self.sudo().search([("platform_id.active", "=", True)])
        bindings._sync(why=_lt("Scheduled check"))
        Call._purge_old_calls()
        self.env["dunning.access.platform"].sudo().process_outbox()
