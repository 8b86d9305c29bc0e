import hashlib
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, config

from ..tools.platform_api import PlatformApi
from ..tools.traccar_api import DEFAULT_BLOCK_FLAGS, DEFAULT_RESTRICT_FLAGS, token_expiration

_logger = logging.getLogger(__name__)

# Where and how a platform connects: the stored credentials go there (system administrators only).
CONNECTION_FIELDS = ("base_url", "kind", "auth_type")


def hash_pull_token(token):
    """The stored form of a pull token: sha256, hex."""
    return hashlib.sha256((token or "").encode()).hexdigest()


def check_access_manager(env, message=None):
    """Superuser (scheduled actions), dunning supervisors and system administrators."""
    if env.su or env.user.has_group("dunning_ruler.group_dunning_supervisor"):
        return
    if env.user.has_group("base.group_system"):
        return
    raise AccessError(message or env._("Only dunning supervisors can act on the access platforms."))


def check_system(env, message):
    if not env.su and not env.user.has_group("base.group_system"):
        raise AccessError(message)


#: a round claims at most this many waves of ``max_concurrency`` calls per platform
CLAIM_WAVES = 4
#: seconds added to a claim's lease, beyond the exchanges' own timeouts
LEASE_MARGIN = 120
#: requests a call may make (Traccar: the user, its sub-users, a PUT per user)
MAX_REQUESTS_PER_CALL = 4


class DunningAccessPlatform(models.Model):
    """A platform where customers have accounts that dunning restricts and blocks."""

    _name = "dunning.access.platform"
    _description = "Access Platform"
    _order = "company_id, name"
    _check_company_auto = True

    name = fields.Char(required=True)
    kind = fields.Selection(
        [("traccar", "Traccar"), ("webhook", "Generic webhook")], required=True, default="traccar"
    )
    base_url = fields.Char(
        string="URL",
        required=True,
        help="Traccar: the server root (https://gps.example.com). Webhook: the endpoint receiving the POSTs.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    active = fields.Boolean(default=True)
    dry_run = fields.Boolean(help="Record and log what would be sent, send nothing.")
    timeout = fields.Float(string="Timeout (s)", default=10.0)
    max_concurrency = fields.Integer(default=4, help="Calls to this platform sent in parallel at most.")
    retry_base_seconds = fields.Integer(default=60, help="First retry delay; doubled on every attempt.")
    retry_max_seconds = fields.Integer(
        default=3600,
        help="Longest delay between two retries; a longer Retry-After of the platform is capped to it.",
    )
    retry_max_attempts = fields.Integer(
        default=0,
        help="Attempts after which a call stops retrying and needs attention (0: no limit).",
    )
    retry_max_age_hours = fields.Integer(
        string="Retry for (hours)",
        default=168,
        help="Hours after it was queued when a call stops retrying and needs attention (0: no limit).",
    )
    attention_user_id = fields.Many2one(
        "res.users",
        string="Attention To",
        check_company=True,
        help="Who gets a to-do when a call needs attention; by default the company's dunning supervisors.",
    )
    auth_type = fields.Selection([("basic", "User and password"), ("token", "Bearer token")], default="basic")
    username = fields.Char(groups="base.group_system")
    password = fields.Char(groups="base.group_system")
    token = fields.Char(string="API Token", groups="base.group_system")
    webhook_secret = fields.Char(
        groups="base.group_system", help="Standard Webhooks secret (whsec_ followed by base64)."
    )
    pull_token = fields.Char(
        groups="base.group_system",
        copy=False,
        compute="_compute_pull_token",
        inverse="_inverse_pull_token",
        help="Bearer token the platform uses to pull a customer's state from Odoo. Only its "
        "sha256 is stored: it is shown once, when generated, and never again.",
    )
    pull_token_hash = fields.Char(groups="base.group_system", copy=False, readonly=True)
    include_sub_users = fields.Boolean(
        default=True, help="Traccar: restrict and block the users a customer's account manages, too."
    )
    restrict_flags = fields.Char(
        default=DEFAULT_RESTRICT_FLAGS,
        help="Traccar user flags set on restriction, in order. Blocking sets the block flags.",
    )
    block_flags = fields.Char(
        default=DEFAULT_BLOCK_FLAGS,
        help="Traccar user flags set on block: every restriction flag, and 'disabled' to lock "
        "the user out (it then gets no notification at all, SOS and alarms included). Leave "
        "'disabled' out for a block that keeps alarms.",
    )
    token_expiration = fields.Datetime(
        compute="_compute_token_expiration",
        help="Traccar: when the API token expires (a token made by /api/session/token lasts 7 days "
        "unless given an expiration). Empty for a service-account token, which never expires.",
    )
    binding_ids = fields.One2many("dunning.access.binding", "platform_id", string="Accounts")
    binding_count = fields.Integer(compute="_compute_counts")
    pending_call_count = fields.Integer(compute="_compute_counts")
    attention_call_count = fields.Integer(compute="_compute_counts")

    _timeout_positive = models.Constraint("CHECK(timeout > 0)", "The timeout must be positive.")

    @api.model_create_multi
    def create(self, vals_list):
        check_system(self.env, self.env._("Only system administrators can add access platforms."))
        return super().create(vals_list)

    def write(self, vals):
        changed = [
            fname
            for fname in CONNECTION_FIELDS
            if fname in vals and any(platform[fname] != vals[fname] for platform in self)
        ]
        if changed:
            check_system(
                self.env,
                self.env._(
                    "Only system administrators can change where and how a platform connects (%s).",
                    ", ".join(self._fields[fname].string for fname in changed),
                ),
            )
        res = super().write(vals)
        if vals.get("dry_run") is False or vals.get("active"):
            # Calls recorded while in dry run (or archived) were never sent: converge now.
            self.env["dunning.access.binding"]._requeue_diverged(self.binding_ids.ids)
        return res

    def _compute_pull_token(self):
        self.pull_token = False  # stored hashed: never readable again

    def _inverse_pull_token(self):
        for platform in self:
            platform.pull_token_hash = hash_pull_token(platform.pull_token) if platform.pull_token else False

    def _compute_counts(self):
        Call = self.env["dunning.access.call"]
        pending = dict(
            Call._read_group(
                [("platform_id", "in", self.ids), ("state", "=", "pending")], ["platform_id"], ["__count"]
            )
        )
        attention = dict(
            Call._read_group(
                [("platform_id", "in", self.ids), ("state", "=", "attention")], ["platform_id"], ["__count"]
            )
        )
        bindings = dict(
            self.env["dunning.access.binding"]._read_group(
                [("platform_id", "in", self.ids)], ["platform_id"], ["__count"]
            )
        )
        for platform in self:
            platform.binding_count = bindings.get(platform, 0)
            platform.pending_call_count = pending.get(platform, 0)
            platform.attention_call_count = attention.get(platform, 0)

    @api.depends("kind", "auth_type", "token")
    def _compute_token_expiration(self):
        for platform in self:
            token = (
                platform.sudo().token
                if platform.kind == "traccar" and platform.auth_type == "token"
                else None
            )
            expiration = token_expiration(token)
            platform.token_expiration = expiration.replace(tzinfo=None) if expiration else False

    @api.constrains(
        "kind",
        "base_url",
        "restrict_flags",
        "block_flags",
        "max_concurrency",
        "retry_base_seconds",
        "retry_max_seconds",
        "retry_max_attempts",
        "retry_max_age_hours",
    )
    def _check_settings(self):
        for platform in self:
            if not (platform.base_url or "").startswith(("http://", "https://")):
                raise ValidationError(
                    self.env._("The URL of platform “%s” must start with http:// or https://.", platform.name)
                )
            if (
                platform.max_concurrency < 1
                or platform.retry_base_seconds < 1
                or platform.retry_max_seconds < platform.retry_base_seconds
                or platform.retry_max_attempts < 0
                or platform.retry_max_age_hours < 0
            ):
                raise ValidationError(
                    self.env._("Concurrency and retry delays must be positive (maximum ≥ first delay).")
                )
            # What only this kind of platform checks (Traccar: its restriction flags).
            platform._get_platform_api_class()._check_platform(platform)

    # ------------------------------------------------------------------
    # The platform's adapter (tools/platform_api.py)
    # ------------------------------------------------------------------
    def _get_platform_api_class(self):
        """The :class:`~odoo.addons.dunning_ruler_access.tools.platform_api.PlatformApi`
        subclass that talks to this platform: the one registered for its ``kind``.
        Override (and call super()) to serve a kind by another class."""
        self.ensure_one()
        api_class = PlatformApi.get_api_class(self.kind)
        if api_class is None:
            raise UserError(self.env._("No adapter is installed for platforms of kind “%s”.", self.kind))
        return api_class

    def _get_platform_api(self):
        """An adapter instance with this platform's settings: safe to use from the
        sending threads (it holds a plain dict, not the record)."""
        self.ensure_one()
        api_class = self._get_platform_api_class()
        return api_class(api_class._get_conf(self.sudo()))

    def _find_account(self, login):
        """The reference of the account of ``login`` (an email or login) on this
        platform, or False."""
        result = self._get_platform_api().find_account(login)
        if not result["ok"]:
            raise UserError(
                self.env._(
                    "%(name)s could not look up %(login)s: %(error)s",
                    name=self.name,
                    login=login,
                    error=result["error"],
                )
            )
        return result["ref"] or False

    def action_open_match_wizard(self):
        """Link many customers at once to their accounts, matched by email."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Match customers"),
            "res_model": "dunning.access.match.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_platform_id": self.id},
        }

    def action_generate_pull_token(self):
        """A new pull token, shown once: only its hash is kept."""
        self.ensure_one()
        check_system(self.env, self.env._("Only system administrators can generate pull tokens."))
        token = secrets.token_urlsafe(32)
        self.sudo().pull_token_hash = hash_pull_token(token)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("New pull token of %s", self.name),
                "message": self.env._(
                    "Give this token to the platform now; it is not shown again: %s", token
                ),
                "type": "warning",
                "sticky": True,
            },
        }

    def action_view_calls(self):
        self.ensure_one()
        return self.env["dunning.access.call"]._action_view([("platform_id", "=", self.id)])

    def action_retry_attention(self):
        """After fixing the credentials: send again every call that needs attention."""
        check_access_manager(self.env)
        calls = self.env["dunning.access.call"].search(
            [("platform_id", "in", self.ids), ("state", "=", "attention")]
        )
        latest = {}
        for call in calls.sorted("id"):
            latest[call.binding_id] = call  # only the latest wish of each account
        self.env["dunning.access.call"].union(*latest.values()).action_retry()

    def action_test_connection(self):
        self.ensure_one()
        check_access_manager(
            self.env, self.env._("Only dunning supervisors can test a platform's connection.")
        )
        result = self._get_platform_api().test_connection()
        if not result["ok"]:
            raise UserError(
                self.env._(
                    "Connection to %(name)s failed: %(error)s %(body)s",
                    name=self.name,
                    error=result["error"],
                    body=(result.get("response") or "")[:200],
                )
            )
        message = self.env._("Connection to %s works.", self.name)
        if result.get("message"):
            message = f"{message} {result['message']}"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": "success", "sticky": False},
        }

    # ------------------------------------------------------------------
    # Outbox
    # ------------------------------------------------------------------
    @api.model
    def _claim_due_calls(self, limit=None, exclude=()):
        """Lock and mark ``sending`` a small batch of due calls, a fair share per
        platform (at most ``CLAIM_WAVES`` × its concurrency, the oldest first): a
        platform with a backlog, or unreachable, never starves the others. A call whose
        account already has one in flight waits for it; a call another worker holds is
        skipped, never sent twice."""
        self.env["dunning.access.call"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                WITH due AS (
                    SELECT c.id, p.max_concurrency,
                           ROW_NUMBER() OVER (
                               PARTITION BY c.platform_id ORDER BY c.next_attempt, c.id
                           ) AS rank
                      FROM dunning_access_call c
                      JOIN dunning_access_platform p ON p.id = c.platform_id
                     WHERE c.state = 'pending' AND c.next_attempt <= %(now)s
                       AND NOT (c.platform_id = ANY(%(exclude)s))
                       AND NOT EXISTS (
                            SELECT 1 FROM dunning_access_call s
                             WHERE s.binding_id = c.binding_id AND s.state = 'sending')
                )
                SELECT c.id FROM dunning_access_call c
                  JOIN due ON due.id = c.id
                 WHERE due.rank <= due.max_concurrency * %(waves)s AND c.state = 'pending'
              ORDER BY due.rank, c.id
                 LIMIT %(limit)s
                   FOR UPDATE OF c SKIP LOCKED
                """,
                now=fields.Datetime.now(),
                exclude=list(exclude),
                waves=CLAIM_WAVES,
                limit=limit or None,
            )
        )
        return self.env["dunning.access.call"].sudo().browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _count_due_calls(self, exclude=()):
        self.env["dunning.access.call"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT COUNT(*) FROM dunning_access_call WHERE state = 'pending' AND next_attempt <= %s "
                "AND NOT (platform_id = ANY(%s))",
                fields.Datetime.now(),
                list(exclude),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def process_outbox(self, limit=None):
        """Send every due call; returns {"sent": n, "retry": n, "attention": n, "dry_run": n}.

        Round after round: take the decisions the accounting side left to the outbox
        (``dunning.access.resync``), recover calls whose worker died (expired lease),
        claim a small fair batch (``_claim_due_calls``), send it (HTTP exchanges in
        threads bounded by each platform's ``max_concurrency``, threads never touch the
        ORM) and record each result as it comes. A fault of one call (an unexpected
        answer, a missing setting, an adapter's exception) makes that call need
        attention and never stops the others.

        Inside the scheduled action every step is committed and the pass stops before
        the cron's time is up (``ir.cron._commit_progress`` returns the time left; the
        cron runs again at once for the rest). Elsewhere (UI, tests) the whole pass is
        one transaction. ``limit``: at most that many calls, in one round."""
        check_access_manager(self.env, self.env._("Only dunning supervisors can send the access outbox."))
        Call = self.env["dunning.access.call"].sudo()
        Binding = self.env["dunning.access.binding"].sudo()
        cron_mode = bool(self.env.context.get("ir_cron_progress_id"))
        summary = {"sent": 0, "retry": 0, "attention": 0, "dry_run": 0}
        deadline = time.monotonic() + self._outbox_time_limit() if cron_mode else float("inf")
        unreachable = set()  # platforms found down in this pass: one wave each, no more
        while True:
            self._outbox_step(lambda: self.env["dunning.access.resync"]._apply(), cron_mode)
            self._outbox_step(Call._recover_expired_leases, cron_mode)
            calls = self._outbox_step(lambda: self._claim_due_calls(limit, exclude=unreachable), False)
            if not calls:
                break
            self._send_round(calls, summary, unreachable, cron_mode)
            time_left = float("inf")
            if cron_mode:
                time_left = self.env["ir.cron"]._commit_progress(remaining=self._count_due_calls(unreachable))
            if limit:
                break
            round_cost = 4 * max(calls.platform_id.mapped("timeout"))
            if time_left <= 0 or time.monotonic() + round_cost >= deadline:
                _logger.info("Access outbox: time is up, the rest is for the next run")
                break
        self._outbox_step(Binding._requeue_diverged, cron_mode)
        Call._schedule_next_run()
        if cron_mode:
            self.env["ir.cron"]._commit_progress(remaining=self._count_due_calls(unreachable))
        if any(summary.values()):
            _logger.info("Access outbox processed: %s", summary)
        return summary

    @api.model
    def _outbox_time_limit(self):
        """Seconds the scheduled action may run: the cron's real-time limit, less a margin."""
        limit = config["limit_time_real_cron"]
        if not limit or limit < 0:
            limit = config["limit_time_real"]
        return max((limit or 120) * 0.8 - 10, 10)

    def _outbox_step(self, func, cron_mode):
        """Run a bookkeeping step; in the scheduled action it is committed, and a
        conflict with another transaction leaves it for the next round."""
        if not cron_mode:
            return func()
        try:
            result = func()
            self.env.cr.commit()  # pylint: disable=invalid-commit
            return result
        except psycopg2.errors.TransactionRollbackError:
            self.env.cr.rollback()
            return None

    @api.model
    def _cron_process_outbox(self):
        return self.sudo().process_outbox()

    def _send_round(self, calls, summary, unreachable, cron_mode):
        """Send the claimed ``calls`` (several platforms) and record their results."""
        now = fields.Datetime.now()
        work = {}
        for platform, platform_calls in calls.grouped("platform_id").items():
            if platform.dry_run or not platform.active:
                summary["dry_run"] += platform._record_dry_run(platform_calls)
                continue
            try:
                api = platform._get_platform_api()
            except Exception as e:  # noqa: BLE001 - no adapter, settings it cannot use...
                error = e.args[0] if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
                for call in platform_calls:
                    result = PlatformApi._error(error)
                    summary[self._record(call, result, None, cron_mode)] += 1
                continue
            work[platform] = (api, platform_calls)
        if not work:
            return
        sending = self.env["dunning.access.call"].sudo()
        for _api, platform_calls in work.values():
            sending |= platform_calls
        # The lease: how long this worker may take before the calls are deemed lost.
        waves = max(
            -(-len(pcalls) // max(platform.max_concurrency, 1)) * platform.timeout
            for platform, (_api, pcalls) in work.items()
        )
        lease = now + timedelta(seconds=LEASE_MARGIN + 2 * MAX_REQUESTS_PER_CALL * waves)
        sending.write({"state": "sending", "lease_until": lease})
        if cron_mode:
            # Deliberate: the claim must be visible (and the row locks released) before the
            # slow exchanges, so that a decision taken meanwhile queues behind the call.
            self.env.cr.commit()  # pylint: disable=invalid-commit
        accounts = self._read_phase(work, summary, unreachable, lease, cron_mode)
        self._apply_phase(work, accounts, summary, unreachable, lease, cron_mode)
        # Calls of an unreachable platform that were not attempted wait for its backoff.
        released = sending.filtered(lambda c: c.state == "sending" and c.lease_until == lease)
        if released:
            self._release(released, unreachable)

    def _read_phase(self, work, summary, unreachable, lease, cron_mode):
        """Adapters that read first keep their snapshot, durably, before any change.
        Returns {call: account read}."""
        accounts = {}
        reads = []
        for platform, (adapter, platform_calls) in work.items():
            if adapter.snapshot_before_apply:
                reads += [
                    (call, platform, adapter.read_account, (call.binding_id.external_ref,))
                    for call in platform_calls
                ]
        if cron_mode and reads:
            self.env.cr.commit()  # pylint: disable=invalid-commit  # each result on a fresh snapshot
        for call, result in self._run_jobs(reads, unreachable):
            if result is None:
                continue
            if result.get("ok"):
                try:
                    self._retrying(
                        lambda call=call, result=result: self._keep_snapshot(call, result), cron_mode
                    )
                    accounts[call] = result["account"]
                    continue
                except psycopg2.errors.TransactionRollbackError:
                    raise
                except Exception as e:  # noqa: BLE001 - an answer the adapter cannot use
                    result = self._unexpected(e)
            summary[self._record(call, result, lease, cron_mode)] += 1
        return accounts

    def _apply_phase(self, work, accounts, summary, unreachable, lease, cron_mode):
        """Apply the target states; each result is recorded (and committed) as it comes."""
        applies = []
        for platform, (adapter, platform_calls) in work.items():
            for call in platform_calls:
                if adapter.snapshot_before_apply and call not in accounts:
                    continue  # its read failed (recorded) or was not attempted (released)
                try:
                    args = (
                        call.binding_id.external_ref,
                        call.target_state,
                        call.binding_id._get_snapshot(),
                        accounts.get(call),
                        call._get_payload(),
                        call.idempotency_key,
                    )
                except Exception as e:  # noqa: BLE001
                    summary[self._record(call, self._unexpected(e), lease, cron_mode)] += 1
                    continue
                applies.append((call, platform, adapter.apply_state, args))
        if cron_mode and applies:
            self.env.cr.commit()  # pylint: disable=invalid-commit  # each result on a fresh snapshot
        for call, result in self._run_jobs(applies, unreachable):
            if result is not None:
                summary[self._record(call, result, lease, cron_mode)] += 1

    def _lock_account(self, call):
        """Lock the rows a result changes (the account, its customer) first: a decision
        committed on them after this transaction's snapshot fails here, quietly, and the
        result is recorded again on a fresh snapshot (see ``_retrying``)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT b.id FROM dunning_access_binding b JOIN res_partner p ON p.id = b.partner_id
                 WHERE b.id = (SELECT binding_id FROM dunning_access_call WHERE id = %s)
                   FOR NO KEY UPDATE
                """,
                call.id,
            ),
            log_exceptions=False,
        )

    def _keep_snapshot(self, call, result):
        self._lock_account(call)
        binding = call.binding_id
        snapshot = binding._get_snapshot()
        merged = call.platform_id._get_platform_api().merge_snapshot(
            snapshot, result["account"], call.target_state
        )
        if merged != snapshot:
            binding._set_snapshot(merged)

    def _retrying(self, func, cron_mode):
        """``func()`` in a savepoint. In the scheduled action it is committed and, on a
        conflict with a transaction committed meanwhile (a payment's decision on the
        same account), run again on a fresh snapshot."""
        for attempt in range(3):
            try:
                with self.env.cr.savepoint():
                    result = func()
                if cron_mode:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                return result
            except psycopg2.errors.TransactionRollbackError:
                if not cron_mode or attempt == 2:
                    raise
                self.env.cr.rollback()
        return None

    def _record_dry_run(self, calls):
        self.ensure_one()
        for call in calls:
            _logger.info("Access dry run on %s: %s %s", self.name, call.action, call.payload)
        calls.write(
            {
                "state": "dry_run",
                "attempts": 0,
                "last_attempt": fields.Datetime.now(),
                "lease_until": False,
                "error": self.env._("Dry run: nothing was sent.")
                if self.dry_run
                else self.env._("Platform archived: nothing was sent."),
            }
        )
        return len(calls)

    def _release(self, calls, unreachable):
        """Claimed calls that were not attempted go back to pending, after the
        platform's first backoff step when it was found unreachable."""
        now = fields.Datetime.now()
        for platform, platform_calls in calls.grouped("platform_id").items():
            later = (
                now + timedelta(seconds=platform.retry_base_seconds) if platform.id in unreachable else now
            )
            platform_calls.write({"state": "pending", "lease_until": False, "next_attempt": later})
            if platform.id in unreachable:
                # Its other due calls too: one wave per pass against a platform that is down.
                platform_calls.flush_recordset()
                self.env.cr.execute(
                    SQL(
                        "UPDATE dunning_access_call SET next_attempt = %s "
                        "WHERE platform_id = %s AND state = 'pending' AND next_attempt < %s",
                        later,
                        platform.id,
                        later,
                    )
                )
                self.env["dunning.access.call"].invalidate_model(["next_attempt"])

    @staticmethod
    def _unexpected(error):
        return PlatformApi._error(
            f"Unexpected answer or adapter error: {type(error).__name__}: {error}"[:1000]
        )

    def _record(self, call, result, lease, cron_mode):
        """Record one call's result in its own savepoint (committed in the scheduled
        action); returns the summary key. A result that cannot be recorded makes the
        call need attention; a call no longer claimed by this worker (its lease expired
        and another took it) is left alone."""
        Call = self.env["dunning.access.call"].sudo()

        def record():
            self._lock_account(call)
            self.env.cr.execute(
                SQL("SELECT state, lease_until FROM dunning_access_call WHERE id = %s FOR UPDATE", call.id),
                log_exceptions=False,
            )
            row = self.env.cr.fetchone()
            if lease is not None and (not row or row[0] != "sending" or row[1] != lease):
                _logger.warning("Access call %s: no longer claimed by this worker, result dropped", call.id)
                return "retry"
            return Call.browse(call.id)._record_result(result)

        try:
            key = self._retrying(record, cron_mode)
        except psycopg2.errors.TransactionRollbackError:
            raise
        except Exception as e:
            _logger.warning("Access call %s: its result could not be recorded", call.id, exc_info=True)
            error = self._unexpected(e)["error"]

            def mark():
                Call.browse(call.id).write(
                    {
                        "state": "attention",
                        "lease_until": False,
                        "attempts": call.attempts + 1,
                        "last_attempt": fields.Datetime.now(),
                        "error": error,
                    }
                )
                return "attention"

            key = self._retrying(mark, cron_mode)
        if cron_mode:
            self.env["ir.cron"]._commit_progress(1)
        return key

    def _run_jobs(self, jobs, unreachable):
        """Run ``func(*args)`` of each ``(call, platform, func, args)`` job, each
        platform in its own pool of ``max_concurrency`` threads, all platforms at once;
        yields ``(call, result)`` as they complete. A job that raises gives an
        "unexpected" failure. When a platform does not answer (a network failure or a
        timeout), its jobs not started yet are cancelled and yield ``None``, and the
        platform joins ``unreachable``."""
        if not jobs:
            return
        by_platform = {}
        for call, platform, func, args in jobs:
            by_platform.setdefault(platform, []).append((call, func, args))
        (platform, p_jobs), *others = by_platform.items()
        if not others and (len(p_jobs) == 1 or platform.max_concurrency <= 1):
            # One platform, one call at a time: no thread needed.
            for call, func, args in p_jobs:
                if platform.id in unreachable:
                    yield call, None
                    continue
                result = _safe_call(func, args)
                if _is_unreachable(result):
                    unreachable.add(platform.id)
                yield call, result
            return
        with ExitStack() as stack:
            futures = {}
            for platform, p_jobs in by_platform.items():
                pool = stack.enter_context(
                    ThreadPoolExecutor(max_workers=max(1, min(platform.max_concurrency, len(p_jobs))))
                )
                for call, func, args in p_jobs:
                    futures[pool.submit(_safe_call, func, args)] = (call, platform)
            for future in as_completed(futures):
                call, platform = futures[future]
                if future.cancelled():
                    yield call, None
                    continue
                result = future.result()
                if _is_unreachable(result) and platform.id not in unreachable:
                    unreachable.add(platform.id)
                    for other, (_call, other_platform) in futures.items():
                        if other_platform == platform:
                            other.cancel()
                yield call, result


def _safe_call(func, args):
    """In a sending thread: the adapter's result, or an "unexpected" failure."""
    try:
        result = func(*args)
    except Exception as e:
        _logger.info("Access adapter raised", exc_info=True)
        return DunningAccessPlatform._unexpected(e)
    if not isinstance(result, dict) or "ok" not in result:
        return DunningAccessPlatform._unexpected(TypeError(f"the adapter returned {result!r}"[:300]))
    return result


def _is_unreachable(result):
    return bool(result) and not result.get("ok") and result.get("retry") and not result.get("status")
