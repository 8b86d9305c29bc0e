"""The dunning engine: one place for the ladder logic.

A run has two halves:

* ``_plan``: which installments reached which level on a date, read with one SQL
  query per batch of customers (never one query per invoice). Planning has no side
  effect, so a preview can show exactly what a run would do.
* ``_execute``: record the events, mark the installments and dispatch every channel,
  all in the same transaction, then commit the batch. A crash before the commit
  leaves nothing behind; a crash after it leaves the levels marked, so the next run
  never repeats them.

The channel contract (how a level communicates or acts):

* a channel is a value of ``dunning.event.channel`` (core: ``email``, ``activity``,
  ``letter``, ``action``; other addons add theirs with ``selection_add``, e.g. ``sms``,
  ``whatsapp``);
* ``dunning.level._get_channels()`` returns the channels a level uses, in dispatch
  order: written messages first (email, then phone messages), then activities,
  letters, and the level's action last (a letter announces what the action does);
  an addon extends it with ``super()`` and a flag field on the level;
* ``_execute`` creates one event per level executed and channel and calls
  ``dunning.event._dunning_send_<channel>()`` once per batch with the events of that
  channel that send; the sender sets each event's state (done, failed, pending), message
  and failure reason itself. A channel without a sender fails its events with a reason;
* one message per customer, company, run and channel: on a message channel
  (``dunning.event._dunning_message_channels()``: email, letter; sms, whatsapp...),
  only the highest level executed for the customer that uses the channel sends, and
  its message lists every open invoice of the customer; the events of the lower levels
  on that channel are recorded done, ``merged_into_id`` the event that sent, and share
  its ``mail_message_id`` and its failure (``_follow_senders``). Activities and actions
  are not messages: every level executed applies its own. A lower level's channel the
  highest level does not use still sends, once per customer;
* the levels an installment missed (a first run's catch-up: a higher level was due at
  the same time) send nothing: one event per customer and run records them, state
  ``skipped``, channel ``none``, ``skipped_level_ids`` the levels and ``line_ids`` the
  installments (the reason names each level's invoices). A level whose conditions fail
  keeps its own skipped event with the reason;
* what a reminder states is true on the day it is sent: its invoices' situation
  (``dunning.event._get_notice_situation``: overdue, due today, upcoming, from the
  real due dates) and the decision taken for the customer in that run
  (``dunning.event._get_notice_service_status``, taken by
  ``dunning.event._dunning_prepare_notices`` before any channel renders), never the
  level's name.

So adding a channel is, in its addon: the selection value and the sender on
``dunning.event`` (``models/dunning_event.py``) and the level's flag with its place in
``_get_channels`` (``models/dunning_level.py``).

What dunning acts on is defined once, here: ``_dunnable_lines_sql`` (open installments
of posted customer invoices, not in dispute, handed over or arranged, of customers not
on hold in that company, whose grade has dunning) and ``_effective_grade_sql``; when a
level applies, by ``_ladders`` and ``_due_levels`` (offsets, grace days, levels
reached). The runs, the preview, manual steps, the portal, letters, hand-overs,
arrangements and reports use them rather than copies.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from markupsafe import Markup
from psycopg2.extensions import TransactionRollbackError

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, float_round

from ..tools.bulk import bulk_insert, bulk_link
from ..tools.i18n import Format, Join, _lt, field_text, write_texts

_logger = logging.getLogger(__name__)

# Namespace of the advisory locks taken on customers during a run ("DUNR").
LOCK_NAMESPACE = 0x44554E52 & 0x7FFFFFFF
# Key of the run lock in that namespace (customer ids start at 1).
RUN_LOCK_KEY = 0
# Key of the session lock held while a scheduled run publishes its batches.
PUBLISH_LOCK_KEY = -1
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_ATTEMPTS = 3
# A run is cut into more batches than its size asks for, to share it evenly between
# its workers, only while each keeps at least this many customers.
MIN_SHARED_BATCH = 100


@dataclass(slots=True)
class PlanStep:
    """A level to execute (or to record as skipped) for a customer's installments."""

    partner_id: int
    company_id: int
    grade_id: int
    ruler_id: int
    level_id: int
    offset_days: int
    skipped: bool = False
    line_ids: list = field(default_factory=list)
    move_ids: list = field(default_factory=list)
    # why the level is skipped: a text in every language (tools/i18n.py), stored as such
    reason: str = ""


class DunningEngine(models.AbstractModel):
    _name = "dunning.engine"
    _description = "Dunning Engine"

    # ------------------------------------------------------------------
    # Selection
    # ------------------------------------------------------------------
    @api.model
    def _ladders(self, company_ids):
        """{(grade, company): (ruler, [level ids], [offsets], [shifts])}, levels by
        increasing offset; the shift of a level is its offset plus, for the overdue
        levels, the grade's grace days. A handful of rows."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT g.id, g.company_id, r.id,
                       array_agg(lvl.id ORDER BY lvl.offset_days),
                       array_agg(lvl.offset_days ORDER BY lvl.offset_days),
                       array_agg(lvl.offset_days + CASE WHEN lvl.offset_days > 0
                                                        THEN COALESCE(g.grace_days, 0) ELSE 0 END
                                 ORDER BY lvl.offset_days)
                  FROM dunning_grade g
                  JOIN dunning_ruler r ON r.id = g.ruler_id
                  JOIN dunning_level lvl ON lvl.ruler_id = r.id
                 WHERE g.active AND g.no_dunning IS NOT TRUE AND r.active
                   AND g.company_id = ANY(%s)
              GROUP BY g.id, g.company_id, r.id
                """,
                list(company_ids),
            )
        )
        return {(grade, company): rest for grade, company, *rest in self.env.cr.fetchall()}

    # ------------------------------------------------------------------
    # The one definition of a dunnable installment
    # ------------------------------------------------------------------
    @api.model
    def _effective_grade_sql(self, partner_alias="p", company_alias="c"):
        """SQL: the grade of customer ``partner_alias`` (a ``res_partner`` row) in
        company ``company_alias`` (a ``res_company`` row): its own grade there
        (company-dependent), else the company's default grade."""
        partner, company = SQL.identifier(partner_alias), SQL.identifier(company_alias)
        return SQL(
            "COALESCE((%s.dunning_grade_id ->> %s.id::text)::int, %s.dunning_default_grade_id)",
            partner,
            company,
            company,
        )

    @api.model
    def _hold_until_sql(self, partner_alias="p", company_alias="c"):
        """SQL: the date customer ``partner_alias`` is on hold until in company
        ``company_alias`` (company-dependent: a hold in one company never pauses
        another's dunning)."""
        return SQL(
            "(%s.dunning_hold_until ->> %s.id::text)::date",
            SQL.identifier(partner_alias),
            SQL.identifier(company_alias),
        )

    @api.model
    def _days_late_sql(self, as_of):
        """SQL: days since installment ``aml`` fell due, on ``as_of``, less the days
        payment arrangements paused it (its ladder resumes where it stopped)."""
        return SQL("%s::date - aml.date_maturity - COALESCE(aml.dunning_pause_days, 0)", as_of)

    @api.model
    def _dunnable_lines_sql(
        self,
        select,
        *,
        as_of=None,
        company_ids=None,
        partner_ids=None,
        due_until=None,
        overdue_on=None,
        include_disputed=False,
        include_paused=False,
        include_held=False,
        include_undunned=False,
        joins=None,
        where=None,
        tail=None,
    ):
        """``SELECT select FROM`` the dunnable installments: the one definition of
        what dunning acts on, for the engine and every other place that needs it.

        An installment is dunnable on ``as_of`` when

        * it is open: a payment-term line of a posted customer invoice, not
          reconciled, with something left to pay;
        * its invoice is not in dispute (``dunning_excluded``), not handed over to a
          collection agency and not under a payment arrangement ("paused");
        * its customer is not on hold in its company on ``as_of`` (a hold ends on
          its date);
        * its customer's grade in its company (``_effective_grade_sql``) is active,
          has dunning, and its ruler is active.

        Which level applies when (offsets, grace days, levels reached) is not SQL:
        see ``_ladders`` and ``_due_levels``. The ``include_*`` flags keep what a
        place deliberately shows beyond the dunnable installments (the place says
        why): invoices in dispute, paused invoices, customers on hold, grades without
        dunning (``g`` and ``r`` are then LEFT JOINed, NULL without a grade).

        Aliases: ``aml`` the installment, ``m`` its invoice, ``p`` the customer (the
        invoice's commercial partner), ``c`` the company, ``g`` the grade, ``r`` its
        ruler. ``due_until``: due on or before that date; ``overdue_on``: due before
        that date; ``company_ids``, ``partner_ids``: None for all. ``joins``,
        ``where`` (``AND ...``) and ``tail`` (GROUP BY, ORDER BY) complete the query.
        The caller flushes (``_flush_dunnable``).
        """
        grade = self._effective_grade_sql("p", "c")
        if include_undunned:
            grade_joins = SQL(
                """LEFT JOIN dunning_grade g ON g.id = %s
              LEFT JOIN dunning_ruler r ON r.id = g.ruler_id""",
                grade,
            )
        else:
            grade_joins = SQL(
                """JOIN dunning_grade g ON g.id = %s AND g.active AND g.no_dunning IS NOT TRUE
                   JOIN dunning_ruler r ON r.id = g.ruler_id AND r.active""",
                grade,
            )
        conditions = [
            SQL("aml.display_type = 'payment_term'"),
            SQL("aml.parent_state = 'posted'"),
            SQL("m.move_type = 'out_invoice'"),
            SQL("aml.reconciled IS NOT TRUE"),
            SQL("aml.amount_residual > 0"),
            SQL("aml.date_maturity IS NOT NULL"),
        ]
        if not include_disputed:
            conditions.append(SQL("m.dunning_excluded IS NOT TRUE"))
        if not include_paused:
            # handed over to an agency, or paused by a payment arrangement
            conditions.append(SQL("m.dunning_handover_id IS NULL AND m.dunning_arrangement_id IS NULL"))
        if not include_held:
            if as_of is None:
                raise ValueError("The hold of a customer is checked on a date: give as_of.")
            hold = self._hold_until_sql("p", "c")
            conditions.append(SQL("(%s IS NULL OR %s <= %s)", hold, hold, as_of))
        if due_until is not None:
            conditions.append(SQL("aml.date_maturity <= %s", due_until))
        if overdue_on is not None:
            conditions.append(SQL("aml.date_maturity < %s", overdue_on))
        if company_ids is not None:
            conditions.append(SQL("aml.company_id = ANY(%s)", list(company_ids)))
        if partner_ids is not None:
            conditions.append(SQL("m.commercial_partner_id = ANY(%s)", list(partner_ids)))
        return SQL(
            """
            SELECT %(select)s
              FROM account_move_line aml
              JOIN account_move m ON m.id = aml.move_id
              JOIN res_partner p ON p.id = m.commercial_partner_id
              JOIN res_company c ON c.id = aml.company_id
              %(grade_joins)s
              %(joins)s
             WHERE %(conditions)s
               %(where)s
             %(tail)s
            """,
            select=select,
            grade_joins=grade_joins,
            joins=joins or SQL(),
            conditions=SQL("\n               AND ").join(conditions),
            where=where or SQL(),
            tail=tail or SQL(),
        )

    @api.model
    def _flush_dunnable(self):
        """Write pending ORM changes read by ``_dunnable_lines_sql``."""
        for model, fnames in (
            ("account.move.line", None),
            ("account.move", None),
            ("res.partner", ["dunning_grade_id", "dunning_hold_until", "commercial_partner_id"]),
            ("res.company", ["dunning_default_grade_id"]),
            ("dunning.grade", None),
            ("dunning.ruler", None),
            ("dunning.level", None),
        ):
            self.env[model].flush_model(fnames)

    @api.model
    def _open_lines_query(self, as_of, company_ids, partner_ids, lead_days, **include):
        """The dunnable open installments (line, move, company, customer, grade, days
        since the due date, offset of the level reached), per customer and line.

        ``lead_days``: how early the earliest level comes before the due date; later
        installments are not read (None: every open installment, whatever its due
        date). Days paused by payment arrangements shift the ladder: it resumes where
        it stopped. ``include``: the ``include_*`` flags of ``_dunnable_lines_sql``."""
        return self._dunnable_lines_sql(
            SQL(
                "aml.id, aml.move_id, aml.company_id, m.commercial_partner_id, g.id, %s, cur.offset_days",
                self._days_late_sql(as_of),
            ),
            as_of=as_of,
            company_ids=company_ids,
            partner_ids=partner_ids,
            due_until=None if lead_days is None else as_of + timedelta(days=lead_days),
            joins=SQL("LEFT JOIN dunning_level cur ON cur.id = aml.dunning_level_id"),
            tail=SQL("ORDER BY m.commercial_partner_id, aml.id"),
            **include,
        )

    @api.model
    def _fetch_due_lines(self, as_of, company_ids, partner_ids=None):
        """The installments with levels due on ``as_of`` and not reached yet: (line,
        move, company, customer, grade, ruler, [level ids], [their offsets]), levels by
        increasing offset, per customer and line (``partner_ids`` None: every customer).

        A level applies to an installment due on T when T + offset (+ grace for the
        overdue levels) <= as_of, and the installment has not yet reached a level at
        or beyond that offset. PostgreSQL reads the open installments once; the few
        levels are matched here: one row per installment, never one per (installment,
        level), which a first run's catch-up multiplies.
        """
        ladders = self._ladders(company_ids)
        if not ladders:
            return []
        lead_days = max(0, -min(shift for *_rest, shifts in ladders.values() for shift in shifts))
        self.env.cr.execute(self._open_lines_query(as_of, company_ids, partner_ids, lead_days))
        due = []
        # Installments share few (ladder, days late, level reached) combinations: each
        # one's due levels are worked out once.
        matches = {}
        for line_id, move_id, company_id, partner_id, grade_id, days, reached in self.env.cr.fetchall():
            key = (grade_id, company_id, days, reached)
            match = matches.get(key)
            if match is None:
                ladder = ladders.get((grade_id, company_id))
                match = matches[key] = ladder and self._due_levels(ladder, days, reached)
            if match:
                due.append((line_id, move_id, company_id, partner_id, grade_id, *match))
        return due

    @api.model
    def _due_levels(self, ladder, days, reached):
        """(ruler, [level ids], [offsets]) of the levels of ``ladder`` due ``days`` after
        the due date and beyond the offset ``reached``; None if there is none."""
        ruler_id, level_ids, offsets, shifts = ladder
        indexes = [
            i for i, shift in enumerate(shifts) if shift <= days and (reached is None or offsets[i] > reached)
        ]
        if not indexes:
            return None
        return ruler_id, [level_ids[i] for i in indexes], [offsets[i] for i in indexes]

    @api.model
    def _next_index(self, ladder, reached):
        """Index in ``ladder`` of the first level beyond the offset ``reached`` (None:
        no level reached yet); None beyond the last level."""
        offsets = ladder[2]
        return next((i for i, offset in enumerate(offsets) if reached is None or offset > reached), None)

    @api.model
    def _may_bring_forward(self, ladder, index, days):
        """Whether a person may send level ``index`` of ``ladder`` now, before a run
        would, to an installment ``days`` after its due date (``_days_late_sql``).

        A reminder before the due date may come any time; the due-date level once
        the installment is due; an overdue level (offset > 0) only once it is overdue
        beyond its grade's grace days (an overdue level's shift is its offset plus the
        grace days): never to an installment a run would not dun yet at any level."""
        _ruler, _levels, offsets, shifts = ladder
        offset = offsets[index]
        if offset < 0:
            return True
        if offset == 0:
            return days >= 0
        return days > shifts[index] - offset

    @api.model
    def _candidate_partner_ids(self, as_of, company_ids, partner_ids=None):
        return sorted({line[3] for line in self._fetch_due_lines(as_of, company_ids, partner_ids)})

    @api.model
    def _lines_amount(self, lines, company=None):
        """(amount, currency) owed on the installments ``lines`` (records): in their
        currency when they share one, else in company currency. The amount of a step,
        a preview line or a manual event. No line: (0.0, ``company``'s currency)."""
        lines = list(lines)
        if not lines:
            return 0.0, (company or self.env.company).currency_id
        currencies = {line.currency_id for line in lines}
        if len(currencies) == 1:
            return sum(line.amount_residual_currency for line in lines), currencies.pop()
        return sum(line.amount_residual for line in lines), lines[0].company_currency_id

    @api.model
    def _check_role(self, role="agent", message=None):
        """Raise unless the user is a dunning agent (``role`` "agent") or supervisor
        ("supervisor"); the superuser passes. The one rights check of the manual
        actions and wizards."""
        group = {
            "agent": "dunning_ruler.group_dunning_agent",
            "supervisor": "dunning_ruler.group_dunning_supervisor",
        }[role]
        if not self.env.su and not self.env.user.has_group(group):
            raise AccessError(
                message
                or (
                    self.env._("Only dunning supervisors can do this.")
                    if role == "supervisor"
                    else self.env._("Only dunning agents can do this.")
                )
            )

    @api.model
    def _partner_balances(self, company_partner_pairs):
        """Open receivable balance per (company, customer), in company currency."""
        if not company_partner_pairs:
            return {}
        self.env.flush_all()
        company_ids = list({c for c, _p in company_partner_pairs})
        partner_ids = list({p for _c, p in company_partner_pairs})
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.company_id, aml.partner_id, SUM(aml.amount_residual)
                  FROM account_move_line aml
                  JOIN account_account a ON a.id = aml.account_id
                 WHERE a.account_type = 'asset_receivable'
                   AND aml.parent_state = 'posted'
                   AND aml.reconciled IS NOT TRUE
                   AND aml.company_id = ANY(%s)
                   AND aml.partner_id = ANY(%s)
              GROUP BY aml.company_id, aml.partner_id
                """,
                company_ids,
                partner_ids,
            )
        )
        return {(c, p): amount for c, p, amount in self.env.cr.fetchall()}

    # ------------------------------------------------------------------
    # Planning (no side effect)
    # ------------------------------------------------------------------
    @api.model
    def _plan(self, as_of, company_ids, partner_ids):
        """Turn the due levels of some customers' installments into plan steps
        (``partner_ids`` None: every customer).

        Per installment only the highest due level is executed; lower due levels
        (missed runs) are recorded as skipped. Steps are grouped per customer and
        level; ``_execute`` then sends one message per customer and channel, of the
        highest level executed (``_message_senders``).
        """
        lines = self._fetch_due_lines(as_of, company_ids, partner_ids)
        if not lines:
            return []
        rulers = self.env["dunning.ruler"].browse({line[5] for line in lines})
        min_amounts = {ruler.id: ruler.min_amount for ruler in rulers}
        pairs = {(line[2], line[3]) for line in lines if min_amounts[line[5]] > 0}
        balances = self._partner_balances(pairs)
        # {(partner, level): reason} of levels whose conditions fail (see _plan_failed_conditions)
        failed = self._plan_failed_conditions(lines, as_of)

        steps = {}
        for line_id, move_id, company_id, partner_id, grade_id, ruler_id, level_ids, offsets in lines:
            min_amount = min_amounts[ruler_id]
            if min_amount > 0 and balances.get((company_id, partner_id), 0.0) < min_amount:
                continue
            # The highest due level whose conditions hold communicates; failing levels are skipped
            # (and count as passed, so they never re-fire).
            top = len(level_ids) - 1
            if failed:
                while top >= 0 and (partner_id, level_ids[top]) in failed:
                    top -= 1
            for index, level_id in enumerate(level_ids):
                key = (partner_id, level_id, index != top)
                step = steps.get(key)
                if step is None:
                    step = steps[key] = PlanStep(
                        partner_id,
                        company_id,
                        grade_id,
                        ruler_id,
                        level_id,
                        offsets[index],
                        index != top,
                        [line_id],
                        [move_id],
                        failed.get((partner_id, level_id), "") if failed else "",
                    )
                    continue
                step.line_ids.append(line_id)
                # an invoice's installments come one after another (by line id): its
                # move is usually the last one added
                if step.move_ids[-1] != move_id and move_id not in step.move_ids:
                    step.move_ids.append(move_id)
        return sorted(steps.values(), key=lambda s: (s.partner_id, s.offset_days, s.skipped))

    @api.model
    def _preview(self, as_of=None, company_ids=None, partner_ids=None):
        """What a run would do on ``as_of``, without doing anything."""
        as_of = fields.Date.to_date(as_of) or fields.Date.context_today(self)
        company_ids = company_ids or self.env.companies.ids
        # partner_ids None: one planning query over every customer.
        return self._plan(as_of, company_ids, partner_ids)

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------
    @api.model
    def _lock_partners(self, partner_ids):
        """The customers of ``partner_ids`` this transaction may dunn now, skipping those
        another run or manual step holds: two concurrent runs never process the same
        invoices.

        Batches of a scheduled action and manual steps take the run lock shared, then a
        transaction-scoped advisory lock per customer, released when the batch commits.
        A run in one transaction (``_lock_run``) already holds the run lock exclusively,
        so no other run or manual step can start meanwhile: it only checks that nobody
        else holds a customer, taking and releasing that customer's lock in the same
        statement, and so keeps one lock whatever the number of customers (PostgreSQL's
        lock table holds about 6,400 by default: one per customer overflowed it)."""
        if not partner_ids:
            return []
        if self.env.context.get("dunning_run_locked"):
            query = SQL(
                """SELECT id FROM unnest(%(ids)s::int[]) AS id
                    WHERE CASE WHEN pg_try_advisory_lock(%(ns)s, id)
                               THEN pg_advisory_unlock(%(ns)s, id) ELSE FALSE END""",
                ids=list(partner_ids),
                ns=LOCK_NAMESPACE,
            )
        else:
            self.env.cr.execute(
                SQL("SELECT pg_try_advisory_xact_lock_shared(%s, %s)", LOCK_NAMESPACE, RUN_LOCK_KEY)
            )
            if not self.env.cr.fetchone()[0]:
                return []  # a run in one transaction is under way: it has them all
            query = SQL(
                "SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_xact_lock(%s, id)",
                list(partner_ids),
                LOCK_NAMESPACE,
            )
        self.env.cr.execute(query)
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _lock_run(self):
        """Take the run lock exclusively for a run in one transaction, waiting for the
        batches and manual steps under way to commit (``dunning_ruler.run_lock_wait``
        seconds, 30 by default)."""
        wait = float(self.env["ir.config_parameter"].sudo().get_param("dunning_ruler.run_lock_wait", 30))
        deadline = time.monotonic() + wait
        while True:
            self.env.cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", LOCK_NAMESPACE, RUN_LOCK_KEY))
            if self.env.cr.fetchone()[0]:
                return
            if time.monotonic() >= deadline:
                raise UserError(
                    self.env._("A dunning run or a manual dunning step is under way: try again in a moment.")
                )
            time.sleep(0.5)

    @api.model
    def _run(self, as_of=None, company_ids=None, partner_ids=None, batch_size=None):
        """Dunn every customer due on ``as_of`` (today by default) and return a summary.

        Inside a scheduled action (``ir_cron_progress_id`` in the context) the run is
        shared by any number of workers: it publishes its customers as batches
        (``_publish_run``), starts the other workers (``_dispatch_run``) and claims
        batches like them (``_work_batches``), committing each one; a helper scheduled
        action (``dunning_helper`` in the context) only claims. Anywhere else (the UI,
        a server action, a shell, a test) the run is one transaction."""
        as_of = fields.Date.to_date(as_of) or fields.Date.context_today(self)
        if company_ids is None:
            company_ids = self.env["res.company"].sudo().search([]).ids  # pylint: disable=no-search-all
        batch_size = batch_size or int(
            self.env["ir.config_parameter"].sudo().get_param("dunning_ruler.batch_size", DEFAULT_BATCH_SIZE)
        )
        # Commit between batches only inside a scheduled action: a run from the UI or a
        # test stays one transaction.
        autocommit = bool(self.env.context.get("ir_cron_progress_id"))
        helper = self.env.context.get("dunning_helper")
        summary = self._new_summary(as_of)
        # Templates compiled by the first batch serve the next ones.
        self = self.with_context(dunning_render_cache={})  # noqa: PLW0642
        if autocommit:
            if helper:
                return self._work_batches(summary)
            batches = self._publish_run(as_of, company_ids, partner_ids, batch_size)
            summary["batches"] = len(batches)
            if self._dispatch_run(batches):
                # other workers (queue jobs) do every batch
                self.env["ir.cron"]._commit_progress(remaining=0)
                _logger.info("Dunning run of %s: %s batches dispatched", as_of, len(batches))
                return summary
            return self._work_batches(summary, batches.ids)
        if not self.env.context.get("dunning_run_locked"):
            self._lock_run()
            self = self.with_context(dunning_run_locked=True)  # noqa: PLW0642
        if helper:
            # A helper outside a scheduled action: the batches of a run under way, in this
            # transaction.
            return self._work_batches(summary)
        # A missed installment releases its invoices before the ladder is planned, so the
        # same run resumes their dunning; a kept plan keeps them out of it.
        self.env["dunning.arrangement"].sudo()._check_arrangements(as_of=as_of, company_ids=company_ids)
        candidates = self._candidate_partner_ids(as_of, company_ids, partner_ids)
        for start in range(0, len(candidates), batch_size):
            chunk = candidates[start : start + batch_size]
            # In one transaction a serialization conflict goes to the caller (e.g. the
            # HTTP layer), which retries the whole run.
            locked, steps, events = self._run_batch(chunk, as_of, company_ids)
            self._add_to_summary(summary, self._batch_stats(chunk, locked, steps, events))
            # The ORM cache only holds the current batch: memory is bounded by the
            # batch size, not by the number of invoices.
            self.env.invalidate_all()
        _logger.info("Dunning run of %s: %s", as_of, summary)
        return summary

    @api.model
    def _new_summary(self, as_of):
        return {
            "date": fields.Date.to_string(as_of),
            "partners": 0,
            "done": 0,
            "skipped": 0,
            "failed": 0,
            "locked": 0,
            "invoices": 0,
            "events": 0,
        }

    @api.model
    def _batch_stats(self, partner_ids, locked, steps, events):
        """What one batch did, as counts (summed into a run's summary)."""
        stats = {
            "customers": len(partner_ids),
            "locked": len(partner_ids) - len(locked),
            "partners": len({s.partner_id for s in steps}),
            "invoices": len({m for s in steps if not s.skipped for m in s.move_ids}),
            "events": len(events),
        }
        # Channels may add states (e.g. SMS waiting for quiet hours: pending).
        for state, count in Counter(events.mapped("state")).items():
            stats[state] = stats.get(state, 0) + count
        return stats

    @api.model
    def _add_to_summary(self, summary, stats):
        for key, count in stats.items():
            if key != "customers":
                summary[key] = summary.get(key, 0) + count
        return summary

    # ------------------------------------------------------------------
    # Scale-out: a scheduled run's batches, claimed by any number of workers
    # ------------------------------------------------------------------
    @api.model
    def _publish_run(self, as_of, company_ids, partner_ids=None, batch_size=DEFAULT_BATCH_SIZE):
        """The pending batches (``dunning.run.batch``) of the scheduled run of ``as_of``
        for ``company_ids``: those of that run if it is under way (resumed after its
        time limit, or joined by a second scheduled action started meanwhile), else
        new ones, the customers to dunn in batches of ``batch_size``.

        Inside a scheduled action the batches are committed, so that every worker sees
        them, by one worker at a time: a session advisory lock, then a commit, so that
        the check for a run under way reads what the previous holder committed. Pending
        batches of another day's run are cancelled (that run's customers are in this
        one)."""
        Batch = self.env["dunning.run.batch"].sudo()
        company_ids = sorted(company_ids)
        autocommit = bool(self.env.context.get("ir_cron_progress_id"))
        cr = self.env.cr
        if autocommit:
            cr.execute(SQL("SELECT pg_advisory_lock(%s, %s)", LOCK_NAMESPACE, PUBLISH_LOCK_KEY))
        try:
            if autocommit:
                # commit (the cron's progress unchanged): the next statement reads a fresh snapshot
                self.env["ir.cron"]._commit_progress()
            self.env.flush_all()
            domain = [("state", "=", "pending"), ("as_of", "=", as_of)]
            under_way = Batch.search(domain).filtered(lambda b: sorted(b.company_ids or []) == company_ids)
            if under_way and partner_ids is None:
                return under_way
            Batch.search([("state", "=", "pending"), ("as_of", "!=", as_of)]).write({"state": "cancelled"})
            # A missed installment releases its invoices before the ladder is planned, so
            # the same run resumes their dunning; a kept plan keeps them out of it.
            self.env["dunning.arrangement"].sudo()._check_arrangements(as_of=as_of, company_ids=company_ids)
            candidates = self._candidate_partner_ids(as_of, company_ids, partner_ids)
            run_key = uuid.uuid4().hex
            batches = Batch.create(
                [
                    {
                        "run_key": run_key,
                        "as_of": as_of,
                        "company_ids": company_ids,
                        "partner_ids": chunk,
                        "partner_count": len(chunk),
                    }
                    for chunk in self._split_batches(candidates, batch_size)
                ]
            )
            if autocommit:
                self.env["ir.cron"]._commit_progress(remaining=len(candidates))
            _logger.info(
                "Dunning run %s of %s: %s customers in %s batches",
                run_key,
                as_of,
                len(candidates),
                len(batches),
            )
            return batches
        except Exception:
            if autocommit:
                cr.rollback()  # the unlock below needs a usable transaction
            raise
        finally:
            if autocommit:
                cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", LOCK_NAMESPACE, PUBLISH_LOCK_KEY))

    @api.model
    def _split_batches(self, customers, batch_size):
        """``customers`` in batches of at most ``batch_size``, of even sizes, and as
        many as a multiple of the run's workers (``_parallel_workers``) when each keeps
        at least ``MIN_SHARED_BATCH`` customers: the workers then finish together
        rather than one of them dunning the last batch alone (7 batches of a steady day
        for 2 workers are 8 smaller ones; a day of 400 customers is 2 batches, not 1)."""
        if not customers:
            return []
        count = -(-len(customers) // batch_size)
        workers = self._parallel_workers()
        shared = -(-count // workers) * workers
        if len(customers) // shared >= min(batch_size, MIN_SHARED_BATCH):
            count = shared
        size, extra = divmod(len(customers), count)
        chunks, start = [], 0
        for number in range(count):
            end = start + size + (number < extra)
            chunks.append(customers[start:end])
            start = end
        return chunks

    @api.model
    def _parallel_workers(self):
        """Workers sharing a scheduled run (``dunning_ruler.parallel_workers``, 2 by
        default; anything but a positive number: 1)."""
        workers = self.env["ir.config_parameter"].sudo().get_param("dunning_ruler.parallel_workers", "2")
        workers = workers.strip()
        return max(int(workers), 1) if workers.isdigit() else 1

    @api.model
    def _dispatch_run(self, batches):
        """Start the other workers of a run whose ``batches`` were published. Returns
        True when they do every batch and the scheduled action need not claim any
        (``dunning_ruler_queue_job``: one queue job per batch), False when it claims
        batches too (here: it starts helper scheduled actions for them)."""
        if len(batches) > 1:
            self._trigger_helper(len(batches) - 1)
        return False

    @api.model
    def _claim_batch(self, batch_ids=None):
        """Lock the next pending batch (of ``batch_ids``, or of any run under way) for
        this transaction, skipping those other workers hold: ``(id, as_of, company_ids,
        partner_ids)``, or None when none is left to claim. The lock is released when
        the transaction that dunns the batch (and marks it done) ends."""
        self.env.flush_all()
        # A batch another worker marked done after this transaction's snapshot is a
        # serialization conflict, retried by _work_batches: not an error for the log.
        self.env.cr.execute(
            SQL(
                """SELECT id, as_of, company_ids, partner_ids FROM dunning_run_batch
                    WHERE state = 'pending' %s
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                SQL("AND id = ANY(%s)", list(batch_ids)) if batch_ids is not None else SQL(),
            ),
            log_exceptions=False,
        )
        return self.env.cr.fetchone()

    @api.model
    def _work_claimed_batch(self, claimed):
        """Dunn a batch ``_claim_batch`` returned and mark it done, in this transaction."""
        batch_id, as_of, company_ids, partner_ids = claimed
        locked, steps, events = self._run_batch(partner_ids, fields.Date.to_date(as_of), company_ids)
        stats = self._batch_stats(partner_ids, locked, steps, events)
        self.env["dunning.run.batch"].sudo().browse(batch_id).write(
            {
                "state": "done",
                "worker": f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}",
                "date_done": fields.Datetime.now(),
                "summary": stats,
            }
        )
        return stats

    @api.model
    def _work_batches(self, summary, batch_ids=None):
        """Claim and dunn batches (of ``batch_ids``, or of any run under way) until none
        is left to claim, adding up what they did in ``summary``. In a scheduled action
        each batch is committed, a batch that meets a serialization conflict is rolled
        back and claimed again on a fresh snapshot, and the worker stops when the cron's
        time is up (the cron is called again for the rest)."""
        autocommit = bool(self.env.context.get("ir_cron_progress_id"))
        Cron = self.env["ir.cron"]
        if autocommit:
            Cron._commit_progress(remaining=self._pending_customers(batch_ids))
        conflicts = Counter()
        time_left = True
        while time_left:
            claimed = None
            try:
                claimed = self._claim_batch(batch_ids)
                if claimed is None:
                    break
                stats = self._work_claimed_batch(claimed)
            except TransactionRollbackError:
                # Another transaction changed these installments (or this batch) after
                # this one's snapshot (a worker that just committed them, a payment being
                # reconciled): between committed batches, retrying on a fresh snapshot
                # skips whatever it already did. In one transaction the caller (e.g. the
                # HTTP layer) retries the whole run.
                conflicts[claimed and claimed[0]] += 1
                if not autocommit or conflicts[claimed and claimed[0]] >= MAX_BATCH_ATTEMPTS:
                    raise
                _logger.info(
                    "Dunning batch conflict, retrying (%s/%s)",
                    conflicts[claimed and claimed[0]],
                    MAX_BATCH_ATTEMPTS,
                )
                self.env.cr.rollback()
                continue
            self._add_to_summary(summary, stats)
            if autocommit:
                time_left = Cron._commit_progress(stats["customers"])
            # The ORM cache only holds the current batch: memory is bounded by the
            # batch size, not by the number of invoices.
            self.env.invalidate_all()
        if autocommit:
            # Out of time: the cron is called again for what is left. Nothing left to
            # claim: the last batches are in other workers' hands.
            Cron._commit_progress(remaining=0 if time_left else self._pending_customers(batch_ids))
        _logger.info("Dunning run of %s: %s", summary["date"], summary)
        return summary

    @api.model
    def _pending_customers(self, batch_ids=None):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT COALESCE(SUM(partner_count), 0) FROM dunning_run_batch WHERE state = 'pending' %s",
                SQL("AND id = ANY(%s)", list(batch_ids)) if batch_ids is not None else SQL(),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _trigger_helper(self, needed=None):
        """Start helper scheduled actions now, so that more cron workers share a large
        run: ``dunning_ruler.parallel_workers`` workers in all (2 by default; 1: none),
        so that many minus one helpers, at most ``needed`` (the batches left for them).

        The first helper is the data record ``ir_cron_dunning_run_helper``; the others
        are copies of it, made on first need. A scheduled action is run by one cron
        worker at a time, any Odoo server's (``max_cron_threads`` per server): with
        Odoo's multi-process server (``--workers``) each uses a processor. They claim
        the run's batches (``_claim_batch``), so no customer is dunned twice."""
        helper = self.env.ref("dunning_ruler.ir_cron_dunning_run_helper", raise_if_not_found=False)
        if not helper or not helper.active:
            return self.env["ir.cron"]
        count = self._parallel_workers() - 1
        if needed is not None:
            count = min(count, needed)
        if count < 1:
            return self.env["ir.cron"]
        Cron = self.env["ir.cron"].sudo().with_context(active_test=False)
        others = Cron.search([("code", "=", helper.code), ("id", "!=", helper.id)], order="id")
        for number in range(len(others) + 2, count + 1):
            # the main scheduled action is worker 1, the first helper worker 2
            others |= helper.sudo().copy({"name": f"{helper.name} #{number + 1}", "active": True})
        helpers = (helper.sudo() | others.filtered("active"))[:count]
        for cron in helpers:
            cron._trigger()
        return helpers

    @api.model
    def _run_batch(self, partner_ids, as_of, company_ids):
        locked = self._lock_partners(partner_ids)
        # Re-read after locking: another run may have committed these customers meanwhile.
        steps = self._plan(as_of, company_ids, locked)
        return locked, steps, self._execute(steps, as_of)

    @api.model
    def _execute(self, steps, as_of, origin="run"):
        """Record the events of ``steps``, mark the installments, dispatch the channels.

        One message per customer, company and channel: of the levels executed for a
        customer, the highest one using a message channel sends on it; the events of
        the lower levels on that channel are recorded done, ``merged_into_id`` the
        event that sent. Activities and actions apply level by level. The levels
        caught up on (skipped without a reason of their own) are recorded in one
        event per customer and company (``skipped_level_ids``)."""
        Event = self.env["dunning.event"].sudo()
        if not steps:
            return Event
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in steps})
        lines = self.env["account.move.line"].sudo().browse({lid for s in steps for lid in s.line_ids})
        lines.fetch(["currency_id", "amount_residual", "amount_residual_currency", "company_currency_id"])
        line_by_id = {line.id: line for line in lines}
        partner_of = {p.id: p for p in self.env["res.partner"].sudo().browse({s.partner_id for s in steps})}
        executed = [s for s in steps if not s.skipped]
        missed = [s for s in steps if s.skipped and not s.reason]
        channels_of, sender = self._message_senders(executed)

        def values(step, channel, **vals):
            amount, currency = self._lines_amount(line_by_id[lid] for lid in step.line_ids)
            return {
                "name": Event._dunning_event_name(
                    partner_of[step.partner_id], levels.browse(step.level_id), as_of
                ),
                "date": as_of,
                "partner_id": step.partner_id,
                "company_id": step.company_id,
                "ruler_id": step.ruler_id,
                "grade_id": step.grade_id,
                "level_id": step.level_id,
                "channel": channel,
                "state": "skipped" if step.skipped else "done",
                "failure_reason": step.reason or False,
                "amount_due": amount,
                "currency_id": currency.id,
                "origin": origin,
                **vals,
            }

        # rows: [(vals, line ids, move ids)]; merged rows also name their sender's key
        rows, merged_rows, sender_index, included = [], [], {}, {}
        for step in steps:
            if step.skipped:
                if step.reason:  # a level whose conditions failed: its own record
                    rows.append((values(step, "none"), step.line_ids, step.move_ids))
                continue
            for channel in channels_of[step.level_id]:
                key = (step.partner_id, step.company_id, channel)
                top = sender.get(key)
                if top is None or top is step:
                    if top is step:
                        sender_index[key] = len(rows)
                    rows.append((values(step, channel), step.line_ids, step.move_ids))
                    continue
                # one text per sending level, shared by its merged events (rendered once)
                message = included.get(top.level_id)
                if message is None:
                    message = included[top.level_id] = Format(
                        Markup("<p>%s</p>"),
                        _lt(
                            "Included in the “%(level)s” reminder.",
                            level=field_text(levels.browse(top.level_id), "name"),
                        ),
                    )
                merged_rows.append(
                    (values(step, channel, message=message), step.line_ids, step.move_ids, key)
                )
        skipped_level_pairs = self._missed_rows(missed, rows, values)
        # Thousands of events per batch: one INSERT, not create() (see tools/bulk.py).
        events = bulk_insert(Event, [row[0] for row in rows])
        for vals, *_rest, key in merged_rows:
            vals["merged_into_id"] = events.ids[sender_index[key]]
        merged = bulk_insert(Event, [row[0] for row in merged_rows])
        all_rows = rows + [row[:3] for row in merged_rows]
        # The new events' links are cached as they are written: the channels read them.
        created = events | merged
        all_ids = created.ids
        bulk_link(
            Event,
            "invoice_ids",
            [(e, m) for e, row in zip(all_ids, all_rows, strict=True) for m in row[2]],
            created=created,
        )
        bulk_link(
            Event,
            "line_ids",
            [(e, ln) for e, row in zip(all_ids, all_rows, strict=True) for ln in row[1]],
            created=created,
        )
        bulk_link(
            Event,
            "skipped_level_ids",
            [(events.ids[i], lvl) for i, lvl in skipped_level_pairs],
            created=created,
        )
        self._mark_reached(steps, as_of)
        # Before any channel renders: fees booked here are shown in the reminders.
        self._book_fees(created, steps, as_of)
        # Dispatch per channel, in batches: each channel sets state/message/failure itself.
        to_send = events.filtered(lambda e: e.state == "done" and e.channel != "none")
        # Decisions the reminders state (e.g. the platform access) are taken before any renders.
        to_send._dunning_prepare_notices()
        for channel in dict.fromkeys(to_send.mapped("channel")):
            channel_events = to_send.filtered(lambda e, c=channel: e.channel == c)
            dispatch = getattr(channel_events, f"_dunning_send_{channel}", None)
            if dispatch is None:
                write_texts(
                    channel_events,
                    {"state": "failed", "failure_reason": _lt("No dispatcher for channel %s.", channel)},
                )
                continue
            dispatch()
        self._follow_senders(merged)
        return created

    @api.model
    def _message_senders(self, executed):
        """({level id: its channels}, {(customer, company, channel): the step sending
        the message}) of the executed steps of a run: per customer, company and message
        channel (``dunning.event._dunning_message_channels``), the highest level using
        it sends one message, which includes the lower ones'."""
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in executed})
        message_channels = self.env["dunning.event"]._dunning_message_channels()
        channels_of = {level.id: level._get_channels() or ["none"] for level in levels}
        sender = {}
        for step in executed:
            for channel in channels_of[step.level_id]:
                key = (step.partner_id, step.company_id, channel)
                if channel in message_channels and (
                    key not in sender or step.offset_days > sender[key].offset_days
                ):
                    sender[key] = step
        return channels_of, sender

    @api.model
    def _missed_rows(self, missed, rows, values):
        """Append to ``rows`` one event per customer and company recording the levels
        ``missed`` (caught up on: a higher level was due at the same time, nothing
        sent), with their installments; return [(row index, level id)]."""
        if not missed:
            return []
        by_key = defaultdict(list)
        for step in missed:
            by_key[step.partner_id, step.company_id].append(step)
        names = {
            move.id: move.name
            for move in self.env["account.move"].sudo().browse({m for s in missed for m in s.move_ids})
        }
        level_names = {
            level.id: field_text(level, "name")
            for level in self.env["dunning.level"].sudo().browse({s.level_id for s in missed})
        }
        pairs = []
        for group in by_key.values():
            line_ids = list(dict.fromkeys(lid for s in group for lid in s.line_ids))
            move_ids = list(dict.fromkeys(mid for s in group for mid in s.move_ids))
            detail = Join(
                "; ",
                (
                    Format(
                        "%s (%s)", level_names[s.level_id], ", ".join(names[m] or str(m) for m in s.move_ids)
                    )
                    for s in group
                ),
            )
            summary = PlanStep(
                group[0].partner_id,
                group[0].company_id,
                group[0].grade_id,
                group[0].ruler_id,
                False,
                group[0].offset_days,
                True,
                line_ids,
                move_ids,
            )
            vals = values(
                summary,
                "none",
                failure_reason=_lt(
                    "Missed run: a higher level was due at the same time, not sent: %s.", detail
                ),
            )
            vals["name"] = self.env["dunning.event"]._dunning_event_name(
                self.env["res.partner"].browse(summary.partner_id), self.env["dunning.level"], vals["date"]
            )
            pairs += [(len(rows), level_id) for level_id in dict.fromkeys(s.level_id for s in group)]
            rows.append((vals, line_ids, move_ids))
        return pairs

    @api.model
    def _follow_senders(self, merged):
        """The events included in another level's message share its outcome: its
        message (``mail_message_id``), and its failure or skip with the reason."""
        if not merged:
            return
        merged.flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE dunning_event e
                   SET mail_message_id = s.mail_message_id,
                       state = CASE WHEN s.state IN ('failed', 'skipped') THEN s.state ELSE e.state END,
                       failure_reason = CASE WHEN s.state IN ('failed', 'skipped')
                                             THEN s.failure_reason ELSE e.failure_reason END
                  FROM dunning_event s
                 WHERE s.id = e.merged_into_id AND e.id = ANY(%s)
                """,
                merged.ids,
            )
        )
        merged.invalidate_recordset(["mail_message_id", "state", "failure_reason"])

    @api.model
    def _mark_reached(self, steps, as_of):
        """Remember the highest level reached per installment and per invoice (in SQL:
        one statement per batch, not one write per invoice)."""
        reached = {}
        for step in steps:
            for line_id in step.line_ids:
                current = reached.get(line_id)
                if current is None or step.offset_days > current[1]:
                    reached[line_id] = (step.level_id, step.offset_days)
        if not reached:
            return
        line_ids, level_ids = zip(*((lid, lvl) for lid, (lvl, _off) in reached.items()), strict=True)
        self.env["account.move.line"].flush_model(["dunning_level_id", "dunning_last_date"])
        self.env["account.move"].flush_model(["dunning_level_id", "dunning_last_date"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_move_line aml
                   SET dunning_level_id = v.level_id, dunning_last_date = %s
                  FROM unnest(%s::int[], %s::int[]) AS v(line_id, level_id)
                 WHERE aml.id = v.line_id
                """,
                as_of,
                list(line_ids),
                list(level_ids),
            )
        )
        move_ids = list({mid for s in steps for mid in s.move_ids})
        self.env["account.move"].flush_model(["access_token"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE account_move m
                   SET dunning_level_id = top.level_id, dunning_last_date = %s,
                       -- every channel links the invoices to the portal: tokens are set in
                       -- this row update (get_portal_url() would write each invoice through
                       -- account.move.write while rendering, lines re-synchronised)
                       access_token = COALESCE(m.access_token, gen_random_uuid()::text)
                  FROM (
                        SELECT DISTINCT ON (aml.move_id) aml.move_id, aml.dunning_level_id AS level_id
                          FROM account_move_line aml
                          JOIN dunning_level lvl ON lvl.id = aml.dunning_level_id
                         WHERE aml.move_id = ANY(%s)
                      ORDER BY aml.move_id, lvl.offset_days DESC
                       ) top
                 WHERE m.id = top.move_id
                """,
                as_of,
                move_ids,
            )
        )
        self.env["account.move.line"].invalidate_model(["dunning_level_id", "dunning_last_date"])
        moves = self.env["account.move"].browse(move_ids)
        moves.invalidate_recordset(["dunning_level_id", "dunning_last_date", "access_token"])
        # Let stored computations that depend on the invoice level (partner level) follow.
        self.env.add_to_compute(
            self.env["res.partner"]._fields["dunning_level_id"], moves.commercial_partner_id
        )

    # ------------------------------------------------------------------
    # Level conditions
    # ------------------------------------------------------------------
    @api.model
    def _overdue_totals(self, as_of, company_partner_pairs):
        """{(company, partner): (overdue amount in company currency, overdue invoice count)}
        for the dunnable overdue installments of some customers: one grouped query."""
        if not company_partner_pairs:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            self._dunnable_lines_sql(
                SQL(
                    "aml.company_id, m.commercial_partner_id, "
                    "SUM(aml.amount_residual), COUNT(DISTINCT aml.move_id)"
                ),
                as_of=as_of,
                overdue_on=as_of,
                company_ids={c for c, _p in company_partner_pairs},
                partner_ids={p for _c, p in company_partner_pairs},
                tail=SQL("GROUP BY aml.company_id, m.commercial_partner_id"),
            )
        )
        return {(c, p): (amount, count) for c, p, amount, count in self.env.cr.fetchall()}

    @api.model
    def _plan_failed_conditions(self, lines, as_of):
        """{(partner_id, level_id): reason} for the due levels whose conditions fail;
        ``lines``: the due installments of ``_fetch_due_lines``. A customer filter is
        evaluated by ``dunning.level._condition_matching_partners`` (the rights of the
        user who wrote it, the level's company only), never as superuser.

        Per batch: one grouped query for the totals (only if some level needs them) and
        one partner search per level carrying a domain."""
        levels = self.env["dunning.level"].sudo().browse(set().union(*(line[6] for line in lines)))
        conditional = levels.filtered(lambda lvl: lvl._has_conditions())
        if not conditional:
            return {}
        partners_by_level = defaultdict(set)
        company_of = {}
        conditional_ids = set(conditional.ids)
        for _line, _move, company_id, partner_id, _grade, _ruler, level_ids, _offsets in lines:
            for level_id in conditional_ids.intersection(level_ids):
                partners_by_level[level_id].add(partner_id)
                company_of[level_id, partner_id] = company_id
        totals = {}
        if any(lvl.condition_min_amount > 0 or lvl.condition_min_invoices > 0 for lvl in conditional):
            totals = self._overdue_totals(as_of, {(c, p) for (_l, p), c in company_of.items()})
        failed = {}
        for level in conditional:
            partner_ids = partners_by_level[level.id]
            matching = filter_error = None
            if level.condition_partner_domain:
                # As the user who wrote the filter, within the level's company only.
                matching, filter_error = level._condition_matching_partners(partner_ids)
            currency = level.company_id.currency_id
            for partner_id in partner_ids:
                amount, count = totals.get((company_of[level.id, partner_id], partner_id), (0.0, 0))
                if (
                    level.condition_min_amount > 0
                    and currency.compare_amounts(amount, level.condition_min_amount) < 0
                ):
                    failed[partner_id, level.id] = _lt(
                        "Condition not met: overdue total %(amount)s is below %(min)s.",
                        amount=float_round(amount, precision_rounding=currency.rounding),
                        min=level.condition_min_amount,
                    )
                elif level.condition_min_invoices > 0 and count < level.condition_min_invoices:
                    failed[partner_id, level.id] = _lt(
                        "Condition not met: %(count)s overdue invoice(s), %(min)s required.",
                        count=count,
                        min=level.condition_min_invoices,
                    )
                elif matching is not None and partner_id not in matching:
                    failed[partner_id, level.id] = filter_error or _lt(
                        "Condition not met: the customer does not match the level's customer filter."
                    )
        return failed

    # ------------------------------------------------------------------
    # Fees
    # ------------------------------------------------------------------
    @api.model
    def _book_fees(self, events, steps, as_of):
        """Charge the fee of each executed level with a fee, once per (level, invoice)."""
        executed = [s for s in steps if not s.skipped]
        if not executed:
            return
        levels = self.env["dunning.level"].sudo().browse({s.level_id for s in executed})
        fee_levels = levels.filtered(lambda lvl: lvl.fee_mode != "none")
        if not fee_levels:
            return
        event_of = {}
        for event in events.filtered(lambda e: e.state == "done"):
            event_of.setdefault((event.partner_id.id, event.level_id.id), event)
        pairs = [(s, event_of[s.partner_id, s.level_id]) for s in executed if s.level_id in fee_levels.ids]
        try:
            # A booking error (no sale journal, locked period...) must not stop the reminders:
            # the fees are left out and the reason is kept on the events.
            with self.env.cr.savepoint():
                self.env["dunning.fee"].sudo()._charge(pairs, as_of)
        except UserError as error:
            _logger.warning("Dunning fees not booked on %s: %s", as_of, error)
            write_texts(
                self.env["dunning.event"].union(*(event for _step, event in pairs)),
                {"failure_reason": _lt("Fee not charged: %s", error.args[0])},
            )
