import hashlib
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..tools.platform_api import PlatformApi
from ..tools.traccar_api import DEFAULT_BLOCK_FLAGS, DEFAULT_RESTRICT_FLAGS, token_expiration

_logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200
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
    retry_max_seconds = fields.Integer(default=3600, help="Longest delay between two retries.")
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

    _base_url_check = models.Constraint("CHECK(timeout > 0)", "The timeout must be positive.")

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
        return super().write(vals)

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
        return {
            "type": "ir.actions.act_window",
            "res_model": "dunning.access.call",
            "view_mode": "list,form",
            "domain": [("platform_id", "=", self.id)],
            "name": self.env._("Access calls"),
        }

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
    def _claim_due_calls(self, limit):
        """Lock the due calls: a call another worker holds is skipped, never sent twice."""
        self.env["dunning.access.call"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM dunning_access_call
                 WHERE state = 'pending' AND next_attempt <= %s
              ORDER BY next_attempt, id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                fields.Datetime.now(),
                limit,
            )
        )
        return self.env["dunning.access.call"].sudo().browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def process_outbox(self, limit=None):
        """Send every due call; returns {"sent": n, "retry": n, "attention": n, "dry_run": n}.

        Calls are claimed with row locks, their HTTP exchanges run in a thread pool
        bounded by each platform's ``max_concurrency`` (threads never touch the ORM)
        and their outcome is written back here. Inside the scheduled action every
        batch is committed; elsewhere (UI, tests) it stays one transaction."""
        check_access_manager(self.env, self.env._("Only dunning supervisors can send the access outbox."))
        autocommit = bool(self.env.context.get("ir_cron_progress_id"))
        summary = {"sent": 0, "retry": 0, "attention": 0, "dry_run": 0}
        batch = limit or DEFAULT_BATCH
        while True:
            calls = self._claim_due_calls(batch)
            if not calls:
                break
            for platform, platform_calls in calls.grouped("platform_id").items():
                for key, count in platform._send_calls(platform_calls).items():
                    summary[key] += count
            if autocommit:
                self.env["ir.cron"]._commit_progress(len(calls))
            if limit:
                break
        self.env["dunning.access.call"]._schedule_next_run()
        if any(summary.values()):
            _logger.info("Access outbox processed: %s", summary)
        return summary

    @api.model
    def _cron_process_outbox(self):
        return self.sudo().process_outbox()

    def _run_parallel(self, func, jobs):
        """``func(*args)`` for each job, at most ``max_concurrency`` at a time."""
        self.ensure_one()
        if len(jobs) <= 1 or self.max_concurrency <= 1:
            return [func(*args) for args in jobs]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(jobs))) as pool:
            return list(pool.map(lambda args: func(*args), jobs))

    def _send_calls(self, calls):
        self.ensure_one()
        counts = {"sent": 0, "retry": 0, "attention": 0, "dry_run": 0}
        if self.dry_run or not self.active:
            for call in calls:
                _logger.info("Access dry run on %s: %s %s", self.name, call.action, call.payload)
            calls.write(
                {
                    "state": "dry_run",
                    "attempts": 0,
                    "last_attempt": fields.Datetime.now(),
                    "error": self.env._("Dry run: nothing was sent.")
                    if self.dry_run
                    else self.env._("Platform archived: nothing was sent."),
                }
            )
            counts["dry_run"] = len(calls)
            return counts
        api = self._get_platform_api()
        results = {}
        accounts = dict.fromkeys(calls)
        if api.snapshot_before_apply:
            # Read first and keep the snapshot of what was there before restricting,
            # committed before anything is changed: a crash cannot lose the original.
            reads = self._run_parallel(api.read_account, [(call.binding_id.external_ref,) for call in calls])
            for call, read in zip(calls, reads, strict=True):
                if not read["ok"]:
                    results[call] = read
                    continue
                accounts[call] = read["account"]
                binding = call.binding_id
                snapshot = binding._get_snapshot()
                merged = api.merge_snapshot(snapshot, read["account"], call.target_state)
                if merged != snapshot:
                    binding._set_snapshot(merged)
            if self.env.context.get("ir_cron_progress_id"):
                # Committing releases the row locks: lease the calls first so that
                # another worker does not claim them while this one is sending.
                lease = fields.Datetime.now() + timedelta(seconds=60 + 2 * self.timeout * len(calls))
                calls.write({"next_attempt": lease})
                # Deliberate: the lease and the snapshots must be durable before the slow sends.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        jobs = [
            (
                call,
                (
                    call.binding_id.external_ref,
                    call.target_state,
                    call.binding_id._get_snapshot(),
                    accounts[call],
                    call._get_payload(),
                    call.idempotency_key,
                ),
            )
            for call in calls
            if call not in results
        ]
        applied = self._run_parallel(api.apply_state, [args for _call, args in jobs])
        results.update({call: result for (call, _args), result in zip(jobs, applied, strict=True)})
        for call in calls:
            counts[call._record_result(results[call])] += 1
        return counts
