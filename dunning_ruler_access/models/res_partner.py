import logging

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, format_date

from odoo.addons.dunning_ruler.tools.i18n import _lt, render

from .dunning_access_binding import ACCESS_RANK, ACCESS_STATES, TARGET_RANK

_logger = logging.getLogger(__name__)


class ResPartner(models.Model):
    _inherit = "res.partner"

    access_binding_ids = fields.One2many("dunning.access.binding", "partner_id", string="Platform Accounts")
    access_state = fields.Selection(
        ACCESS_STATES,
        string="Platform Access",
        compute="_compute_access_state",
        store=True,
        help="Most restrictive state over the customer's platform accounts.",
    )

    @api.depends("access_binding_ids.access_state", "access_binding_ids.active")
    def _compute_access_state(self):
        for partner in self:
            states = partner.access_binding_ids.filtered("active").mapped("access_state")
            partner.access_state = max(states, key=ACCESS_RANK.get) if states else False

    def write(self, vals):
        res = super().write(vals)
        if "dunning_grade_id" in vals:
            # An exempt grade lifts a restriction at once.
            self._dunning_access_sync(_lt("Grade changed"))
        return res

    @api.model
    def _dunning_next_step_warnings(self, steps, as_of):
        """Also: a next level restricting or blocking that a guard (exempt grade,
        balance below the ruler's minimum, provisional unblock, hold, notice before a
        block) keeps from doing it, with the reason; from the decision the run takes
        (``dunning.access.binding._compute_targets``, the level taken as reached)."""
        warnings = super()._dunning_next_step_warnings(steps, as_of)
        ranks = {"restrict": 1, "block": 2}
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
        acting = [s for s in steps if levels.browse(s.level_id).action in ranks]
        if not acting:
            return warnings
        bindings = self.browse({s.partner_id for s in acting})._dunning_access_bindings(
            list({s.company_id for s in acting})
        )
        # The decision's reasons are texts in every language: read in the user's.
        lang = self.env.lang or "en_US"
        for company, company_bindings in bindings.grouped("company_id").items():
            steps_here = [s for s in acting if s.company_id == company.id]
            assume = {s.partner_id: (ranks[levels.browse(s.level_id).action], s.level_id) for s in steps_here}
            targets = company_bindings._compute_targets(as_of, assume=assume)
            for step in steps_here:
                level = levels.browse(step.level_id)
                reasons = [
                    render(reason, lang)
                    for binding, (target, reason) in targets.items()
                    if binding.partner_id.id == step.partner_id and TARGET_RANK[target] < ranks[level.action]
                ]
                if reasons:
                    reasons = "; ".join(dict.fromkeys(reasons))
                    warnings[step.partner_id].append(
                        self.env._(
                            "“%(level)s” will not block the platform access: %(reasons)s.",
                            level=level.name,
                            reasons=reasons,
                        )
                        if level.action == "block"
                        else self.env._(
                            "“%(level)s” will not restrict the platform access: %(reasons)s.",
                            level=level.name,
                            reasons=reasons,
                        )
                    )
        bound = {(b.partner_id.id, b.company_id.id) for b in bindings}
        for step in acting:
            if (step.partner_id, step.company_id) not in bound:
                warnings[step.partner_id].append(
                    self.env._(
                        "“%s” changes nothing on a platform: the customer has no platform account.",
                        levels.browse(step.level_id).name,
                    )
                )
        return warnings

    def _dunning_access_sync(self, why=None):
        bindings = (
            self.env["dunning.access.binding"]
            .sudo()
            .search([("partner_id", "in", self.commercial_partner_id.ids)])
        )
        if bindings:
            bindings._sync(why=why)

    def _dunning_access_sync_nowait(self, why):
        """The accounting side's entry (a payment reconciled or unreconciled): never
        fails, never waits on the connector's row locks, never rolls the payment back.

        The decision is taken at once when the customer's accounts, their waiting calls
        and the customer's row can be locked without waiting; otherwise (the outbox
        holds them, a concurrent update) a row is inserted in
        ``dunning.access.resync`` and the outbox cron, triggered, decides after this
        transaction's commit."""
        partners = self.commercial_partner_id
        if not partners:
            return
        self.env.cr.execute(
            SQL("SELECT id FROM dunning_access_binding WHERE partner_id = ANY(%s)", partners.ids)
        )
        binding_ids = [row[0] for row in self.env.cr.fetchall()]
        if not binding_ids:
            return
        self.env.flush_all()  # the payment's own writes: their errors are the payment's
        try:
            with self.env.cr.savepoint():
                for query in (
                    "SELECT id FROM dunning_access_binding WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT",
                    (
                        "SELECT id FROM dunning_access_call WHERE binding_id = ANY(%s) "
                        "AND state IN ('pending', 'attention') FOR NO KEY UPDATE NOWAIT"
                    ),
                ):
                    self.env.cr.execute(SQL(query, binding_ids), log_exceptions=False)
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM res_partner WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT", partners.ids
                    ),
                    log_exceptions=False,
                )
                partners._dunning_access_sync(why)
        except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure) as e:
            _logger.info("Access decision for %s deferred to the outbox: %s", partners.ids, e.pgcode)
            self.env["dunning.access.resync"]._request(partners, why)
        except Exception:
            _logger.warning("Access decision for %s deferred to the outbox", partners.ids, exc_info=True)
            self.env["dunning.access.resync"]._request(partners, why)

    def action_dunning_trust(self, until, note=False):
        """Provisional unblock until ``until`` (e.g. a bank slip that settles tomorrow)."""
        if not self.env.su and not self.env.user.has_group("dunning_ruler.group_dunning_supervisor"):
            raise AccessError(self.env._("Only dunning supervisors can grant a provisional unblock."))
        until = fields.Date.to_date(until)
        bindings = (
            self.env["dunning.access.binding"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "in", self.env.companies.ids),
                ]
            )
        )
        bindings.write({"trust_until": until, "trust_note": note})
        # Who granted it and why stay in Odoo (chatter, the binding's note, the call's
        # author): the reason kept on the accounts reaches the platforms (payload, pull).
        bindings._sync(why=self.env._("Provisional unblock until %s", until))
        body = self.env._(
            "Provisional unblock until %(date)s by %(user)s: %(note)s",
            date=until,
            user=self.env.user.name,
            note=note or "-",
        )
        for partner in self.commercial_partner_id:
            partner.sudo()._message_log(body=body)
        return True

    def _dunning_access_bindings(self, company_ids):
        return (
            self.env["dunning.access.binding"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "in", company_ids),
                    ("active", "=", True),
                ]
            )
        )

    def _dunning_portal_notices(self, company_ids):
        """The state of the customer's platform accounts, only when it has some."""
        notices = super()._dunning_portal_notices(company_ids)
        bindings = self._dunning_access_bindings(company_ids)
        if not bindings:
            return notices
        state = max(bindings.mapped("access_state"), key=ACCESS_RANK.get)
        labels = dict(bindings._fields["access_state"]._description_selection(self.env))
        if state == "active":
            severity, text = "success", self.env._("%s.", labels[state])
        elif state == "trusted":
            until = min(bindings.filtered("trust_until").mapped("trust_until"))
            severity = "success"
            text = self.env._(
                "Provisionally restored until %(date)s: it is restricted again after that date unless the "
                "overdue invoices are paid.",
                date=format_date(self.env, until),
            )
        else:
            severity = "danger" if state in ("blocked", "pending_block") else "warning"
            text = self.env._(
                "%s. It is restored automatically as soon as the overdue invoices are paid.", labels[state]
            )
        notices.append(
            {
                "key": "platform_access",
                "state": state,
                "severity": severity,
                "title": self.env._("Tracking platform access:"),
                "text": text,
            }
        )
        return notices

    def _dunning_promise_granted(self, company, until):
        """A promise to pay restores a restricted or blocked access until its date (the
        provisional unblock); the daily check restricts it again once it has passed."""
        result = super()._dunning_promise_granted(company, until)
        bindings = self._dunning_access_bindings(company.ids)
        if bindings.filtered(lambda b: b.access_state != "active"):
            self.sudo().with_context(allowed_company_ids=company.ids).action_dunning_trust(
                until, note=self.env._("Promise to pay made by the customer on its statement page")
            )
        return result

    def action_dunning_access_find(self):
        """Find this customer's account on a platform by its email: the match wizard."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Find on platform"),
            "res_model": "dunning.access.match.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.commercial_partner_id.ids},
        }

    def action_open_dunning_trust_wizard(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Provisional unblock"),
            "res_model": "dunning.access.trust.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.commercial_partner_id.ids},
        }
