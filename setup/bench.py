"""Dunning benchmark: build a large data set, run the dunning, print the figures.

Driven by ``setup/bench`` (which prepares the databases); usable alone:

    python setup/bench.py -c odoo.conf -d DB build --size 100000
    python setup/bench.py -c odoo.conf -d DB run [--mode cron|single|concurrent|resume]
    python setup/bench.py -c odoo.conf -d DB run --sections outbox --size 10000 --latency-ms 20

``build`` creates customers and posted invoices by cloning a few invoices made
through the ORM with set-based SQL (one INSERT per table, whatever the size), so
100k invoices take seconds, not hours. ``run`` measures one dunning run and
checks its invariants (nothing dunned twice, a rerun does nothing).

Sections are functions named ``section_<name>`` run by ``run``: a new one (e.g.
the access module's outbox) only needs such a function and its name in
``--sections``.
"""

import argparse
import functools
import json
import logging
import os
import random
import resource
import shutil
import sys
import threading
import time
import tracemalloc
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta

# The date every run is "today" for: data dates are relative to it, so cached data
# stays valid whatever day the benchmark runs.
AS_OF = date(2026, 6, 15)
SEED = 42

_logger = logging.getLogger("dunning.bench")


def _odoo(conf, db):
    from odoo.modules.registry import Registry
    from odoo.service import server
    from odoo.tools import config

    config.parse_config(["-c", conf, "-d", db, "--no-http", "--max-cron-threads=0", "--log-level=warn"])
    server.load_server_wide_modules()

    return Registry(db)


def _env(cr, context=None):
    from odoo import SUPERUSER_ID, api

    return api.Environment(cr, SUPERUSER_ID, dict(context or {}))


def _columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [row[0] for row in cr.fetchall()]


def _clone_sql(cr, table, source, overrides, skip=("id",), returning=None):
    """INSERT INTO table SELECT every column of template row ``t`` (joined in
    ``source``), replaced by ``overrides`` {column: sql expression}."""
    cols = [c for c in _columns(cr, table) if c not in skip or c in overrides]
    exprs = [overrides.get(c, f't."{c}"') for c in cols]
    col_list = ", ".join(f'"{c}"' for c in cols)
    query = f"INSERT INTO {table} ({col_list}) SELECT {', '.join(exprs)} FROM {source}"
    if returning:
        query += f" RETURNING {returning}"
    return query


def _reserve_ids(cr, table, n):
    seq = f"{table}_id_seq"
    cr.execute(f"SELECT nextval('{seq}')")
    start = cr.fetchone()[0]
    cr.execute(f"SELECT setval('{seq}', %s)", (start + n - 1,))
    return list(range(start, start + n))


# ---------------------------------------------------------------------- build
def build(registry, size):
    """N posted open customer invoices over N/5 customers, with mixed due dates,
    grades, languages, currencies and partial payments."""
    from odoo import Command

    rng = random.Random(SEED)
    n_invoices = size
    n_partners = max(1, size // 5)
    t0 = time.perf_counter()
    with registry.cursor() as cr:
        env = _env(cr)
        company = env.ref("base.main_company")
        if not company.email:
            company.email = "billing@bench.example.com"
        env["res.lang"]._activate_lang("fr_FR")
        eur = env.ref("base.EUR")
        eur.active = True
        env["res.currency.rate"].create(
            {"currency_id": eur.id, "name": "2020-01-01", "rate": 0.9, "company_id": company.id}
        )
        grades = [
            env.ref("dunning_ruler.dunning_grade_standard"),
            env.ref("dunning_ruler.dunning_grade_vip"),
            env.ref("dunning_ruler.dunning_grade_high_risk"),
        ]
        never = env["dunning.grade"].create(
            {
                "name": "Bench: never",
                "code": "BENCH-NONE",
                "ruler_id": grades[0].ruler_id.id,
                "no_dunning": True,
            }
        )
        # The final level also schedules a call: a real mixed-channel run.
        tmpl_partner = env["res.partner"].create(
            {"name": "Bench template", "is_company": True, "email": "t@bench.example.com"}
        )
        tmpl_moves = {}
        for currency in (company.currency_id, eur):
            move = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": tmpl_partner.id,
                    "invoice_date": AS_OF,
                    "invoice_date_due": AS_OF,
                    "currency_id": currency.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "GPS tracking, monthly",
                                "quantity": 1,
                                "price_unit": 100.0,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
            )
            move.action_post()
            tmpl_moves[currency.id] = move
        env.flush_all()

        # -- customers: grade mix 70% default, 15% VIP, 12% high risk, 3% never dunned
        partner_ids = _reserve_ids(cr, "res_partner", n_partners)
        grade_of, lang_of, email_of = [], [], []
        for i, _pid in enumerate(partner_ids):
            r = rng.random()
            grade = None if r < 0.70 else grades[1] if r < 0.85 else grades[2] if r < 0.97 else never
            grade_of.append(f'{{"{company.id}": {grade.id}}}' if grade else None)
            lang_of.append("fr_FR" if rng.random() < 0.2 else "en_US")
            email_of.append(None if rng.random() < 0.01 else f"customer{i:06d}@bench.example.com")
        names = [f"Bench Customer {i:06d}" for i in range(n_partners)]
        cr.execute(
            _clone_sql(
                cr,
                "res_partner",
                "unnest(%s::int[], %s::varchar[], %s::varchar[], %s::varchar[], %s::jsonb[]) "
                "AS v(id, name, email, lang, grade) JOIN res_partner t ON t.id = %s",
                {
                    "id": "v.id",
                    "name": "v.name",
                    "complete_name": "v.name",
                    "email": "v.email",
                    "lang": "v.lang",
                    "commercial_partner_id": "v.id",
                    "dunning_grade_id": "v.grade",
                    "create_date": "now() at time zone 'UTC'",
                    "write_date": "now() at time zone 'UTC'",
                },
            ),
            (partner_ids, names, email_of, lang_of, grade_of, tmpl_partner.id),
        )

        # -- invoices: each customer is billed monthly; its invoices fall due 30 days
        # apart, the most recent between 25 days late and 10 days ahead: one run
        # meets every level, and catches up the lower ones of older invoices.
        move_ids = _reserve_ids(cr, "account_move", n_invoices)
        per_partner = [5] * n_partners
        for _ in range(n_invoices - 5 * n_partners):
            per_partner[rng.randrange(n_partners)] += 1
        rows = {k: [] for k in ("id", "n", "tmpl", "partner", "due", "factor", "paid")}
        k = 0
        for pidx, count in enumerate(per_partner):
            latest = AS_OF + timedelta(days=rng.randint(-25, 10))
            currency_id = eur.id if rng.random() < 0.25 else company.currency_id.id
            for j in range(count):
                rows["id"].append(move_ids[k])
                rows["n"].append(k + 1)
                rows["tmpl"].append(tmpl_moves[currency_id].id)
                rows["partner"].append(partner_ids[pidx])
                rows["due"].append(latest - timedelta(days=30 * (count - 1 - j)))
                rows["factor"].append(round(rng.uniform(0.3, 25.0), 2))  # 30 .. 2500
                # 20% partially paid (10% to 90% of the amount)
                rows["paid"].append(round(rng.uniform(0.1, 0.9), 2) if rng.random() < 0.2 else 0.0)
                k += 1
        source = (
            "unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::date[], %s::numeric[], %s::numeric[]) "
            "AS v(id, n, tmpl, partner, due, factor, paid) JOIN account_move t ON t.id = v.tmpl"
        )
        args = [rows[k] for k in ("id", "n", "tmpl", "partner", "due", "factor", "paid")]
        name = "'BENCH/' || lpad(v.n::text, 7, '0')"
        move_over = {
            "id": "v.id",
            "name": name,
            "sequence_prefix": "'BENCH/'",
            "sequence_number": "v.n",
            "payment_reference": name,
            "partner_id": "v.partner",
            "commercial_partner_id": "v.partner",
            "invoice_partner_display_name": "'Bench customer'",
            "invoice_date": "v.due - 30",
            "date": "v.due - 30",
            "invoice_date_due": "v.due",
            "payment_state": "CASE WHEN v.paid > 0 THEN 'partial' ELSE 'not_paid' END",
            "access_token": "NULL",
            "inalterable_hash": "NULL",
            "secure_sequence_number": "NULL",
            "create_date": "now() at time zone 'UTC'",
            "write_date": "now() at time zone 'UTC'",
        }
        for col in _columns(cr, "account_move"):
            if col.startswith("amount_") and col not in move_over:
                residual = "(1 - v.paid)" if "residual" in col else "1"
                move_over[col] = f"round(t.{col} * v.factor * {residual}, 2)"
        cr.execute(_clone_sql(cr, "account_move", source, move_over), args)

        line_source = source.replace(
            "JOIN account_move t ON t.id = v.tmpl", "JOIN account_move_line t ON t.move_id = v.tmpl"
        )
        line_over = {
            "move_id": "v.id",
            "move_name": name,
            "partner_id": "v.partner",
            "date": "v.due - 30",
            "invoice_date": "v.due - 30",
            "date_maturity": "CASE WHEN t.display_type = 'payment_term' THEN v.due ELSE t.date_maturity END",
            "create_date": "now() at time zone 'UTC'",
            "write_date": "now() at time zone 'UTC'",
        }
        for col in (
            "debit",
            "credit",
            "balance",
            "amount_currency",
            "price_unit",
            "price_subtotal",
            "price_total",
            "tax_base_amount",
        ):
            line_over[col] = f"round(t.{col} * v.factor, 2)"
        for col in ("amount_residual", "amount_residual_currency"):
            line_over[col] = f"round(t.{col} * v.factor * (1 - v.paid), 2)"
        cr.execute(_clone_sql(cr, "account_move_line", line_source, line_over), args)
        cr.commit()
    with registry.cursor() as cr:
        cr.connection.autocommit = True
        cr.execute("VACUUM ANALYZE account_move, account_move_line, res_partner")
    elapsed = time.perf_counter() - t0
    print(f"built {n_invoices} invoices over {n_partners} customers in {elapsed:.1f}s")


# ---------------------------------------------------------------------- measure
def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sql_count():
    from odoo import sql_db

    return sql_db.sql_counter


def _best_of(times, func):
    """(shortest wall time of ``times`` calls of ``func``, its last result)."""
    best = result = None
    for _ in range(times):
        t0 = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def section_selection(registry, args, out):
    """Bare PostgreSQL selection of the overdue installments, for comparison."""
    from odoo.tools import SQL

    with registry.cursor() as cr:
        env = _env(cr)
        # The dunnable installments (the engine's own filter, dunning.engine.
        # _dunnable_lines_sql) due within the ruler's lead days, as one plain query:
        # no ladder, no level, no condition.
        bare = env["dunning.engine"]._dunnable_lines_sql(
            SQL(
                "aml.id, aml.move_id, m.commercial_partner_id, aml.date_maturity, "
                "aml.amount_residual, aml.dunning_level_id"
            ),
            as_of=AS_OF,
            due_until=AS_OF + timedelta(days=5),
        )

        def bare_selection():
            cr.execute(bare)
            return cr.fetchall()

        out["bare_sql_s"], rows = _best_of(3, bare_selection)
        out["bare_sql_rows"] = len(rows)
        # The engine's own selection (all levels of all rulers, every customer), timed
        # like the bare query: best of 3 (the first also warms the registry's caches).

        def preview():
            steps = env["dunning.engine"]._preview(as_of=AS_OF)
            env.invalidate_all()
            return steps

        out["preview_s"], steps = _best_of(3, preview)
        out["preview_steps"] = len(steps)
        # Write-heavy runs depend on the server's memory and checkpoint settings.
        cr.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            (["shared_buffers", "max_wal_size", "checkpoint_timeout"],),
        )
        out["pg_settings"] = dict(cr.fetchall())


def _cron_env(env, end_time, xmlid="dunning_ruler.ir_cron_dunning_run"):
    """The context ir.cron gives a job: a progress record, commits per batch."""
    cron = env.ref(xmlid)
    cron, progress = cron._add_progress()
    env.cr.commit()
    return cron.with_context(cron_id=cron.id, cron_end_time=end_time).env, progress


def _run_once(registry, mode, end_time=float("inf"), batch_size=None):
    with registry.cursor() as cr:
        env = _env(cr)
        if batch_size:
            env["ir.config_parameter"].set_param("dunning_ruler.batch_size", batch_size)
        if mode == "single":
            summary = env["dunning.ruler"].run_dunning(as_of=AS_OF)
        elif mode == "helper":
            # What the second worker's scheduled action runs (_cron_run_dunning_helper)
            cron_env, _progress = _cron_env(env, end_time, "dunning_ruler.ir_cron_dunning_run_helper")
            summary = cron_env["dunning.ruler"].with_context(dunning_helper=True).run_dunning(as_of=AS_OF)
        else:
            cron_env, _progress = _cron_env(env, end_time)
            summary = cron_env["dunning.ruler"].run_dunning(as_of=AS_OF)
        cr.commit()
        return summary


def _check(registry, out):
    """Invariants after a run: no installment got the same level twice, every done
    email has its queued mail, and a rerun does nothing."""
    with registry.cursor() as cr:
        cr.execute(
            """
            SELECT count(*) FROM (
                SELECT r.line_id, e.level_id, e.channel
                  FROM dunning_event e
                  JOIN dunning_event_account_move_line_rel r ON r.event_id = e.id
                 WHERE e.level_id IS NOT NULL  -- not the records of missed levels (issue 16)
              GROUP BY 1, 2, 3 HAVING count(*) > 1) dup
            """
        )
        out["duplicates"] = cr.fetchone()[0]
        cr.execute(
            """
            SELECT count(*) FILTER (WHERE e.state = 'done'),
                   count(*) FILTER (WHERE e.state = 'done' AND mm.id IS NULL),
                   count(*) FILTER (WHERE e.state = 'failed'),
                   count(DISTINCT e.mail_message_id),
                   count(DISTINCT mm.id)
              FROM dunning_event e
         LEFT JOIN mail_mail mm ON mm.mail_message_id = e.mail_message_id AND mm.state = 'outgoing'
             WHERE e.channel = 'email'
            """
        )
        (
            out["emails_done"],
            out["emails_without_mail"],
            out["emails_failed"],
            out["email_messages"],
            out["mails_queued"],
        ) = cr.fetchone()
        cr.execute("SELECT count(*) FROM dunning_event")
        out["events_total"] = cr.fetchone()[0]
    out["rerun_events"] = _run_once(registry, "cron")["events"]


class _Clock:
    """Exclusive wall time per category: a wrapped call pauses its caller's clock,
    so SQL run while rendering counts as SQL, not as rendering."""

    def __init__(self, timer=time.perf_counter):
        self.spent = Counter()
        self._timer = timer
        self._stack = []

    def wrap(self, name, func):
        @functools.wraps(func)
        def timed(*args, **kwargs):
            now = self._timer()
            if self._stack:
                self.spent[self._stack[-1][0]] += now - self._stack[-1][1]
            self._stack.append([name, now])
            try:
                return func(*args, **kwargs)
            finally:
                end = self._timer()
                category, since = self._stack.pop()
                self.spent[category] += end - since
                if self._stack:
                    self._stack[-1][1] = end

        return timed


@contextmanager
def _time_spent():
    """Where a run's time goes: PostgreSQL (every query and commit, waits included), HTML
    sanitising (mail.message bodies, through the Html field), QWeb rendering (of the
    email bodies and the layout), and the rest."""
    from odoo import sql_db
    from odoo.orm import fields_textual

    from odoo.addons.base.models.ir_qweb import IrQweb

    clock = _Clock()
    patched = [
        (sql_db.Cursor, "execute", "sql"),
        (sql_db.Cursor, "commit", "sql"),  # flush queries, then the WAL flush of each batch
        (fields_textual, "html_sanitize", "sanitize"),
        (IrQweb, "_render", "qweb"),
    ]
    originals = [(owner, attr, getattr(owner, attr)) for owner, attr, _name in patched]
    for (owner, attr, name), (_o, _a, func) in zip(patched, originals, strict=True):
        setattr(owner, attr, clock.wrap(name, func))
    try:
        yield clock.spent
    finally:
        for owner, attr, func in originals:
            setattr(owner, attr, func)


def section_run(registry, args, out):
    """One dunning run, the way the scheduled action does it (commit per batch)."""
    if args.tracemalloc:
        tracemalloc.start()
    rss0 = _maxrss_mb()
    q0 = _sql_count()
    t0 = time.perf_counter()
    with _time_spent() as spent:
        summary = _run_once(registry, args.mode, batch_size=args.batch_size)
    out["run_s"] = time.perf_counter() - t0
    out["time_spent"] = dict(spent)
    out["queries"] = _sql_count() - q0
    out["rss_growth_mb"] = _maxrss_mb() - rss0
    if args.tracemalloc:
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["summary"] = summary
    _check(registry, out)


def section_concurrent(registry, args, out):
    """Two scheduled actions at once on the same committed data, each with its own
    connection: one publishes the run's batches, the other joins that run, and both
    claim its batches."""
    results, errors = {}, []
    barrier = threading.Barrier(args.workers)
    if args.batch_size:
        with registry.cursor() as cr:
            _env(cr)["ir.config_parameter"].set_param("dunning_ruler.batch_size", args.batch_size)

    def worker(n):
        try:
            barrier.wait()
            results[n] = _run_once(registry, "cron")
        except Exception as e:
            _logger.exception("worker %s failed", n)
            errors.append(repr(e))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["run_s"] = time.perf_counter() - t0
    out["workers"] = {
        n: {k: results[n][k] for k in ("partners", "events", "locked")} for n in sorted(results)
    }
    out["errors"] = errors
    _check(registry, out)


def section_helper(registry, args, out):
    """A helper scheduled action's run alone (started by section_parallel): it waits
    for the run's batches to be published (the run database has no other), then claims
    batches until none is left."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM dunning_run_batch")
            if cr.fetchone()[0]:
                break
        time.sleep(0.1)
    t0, cpu0 = time.perf_counter(), _cpu_s(registry)
    out["helper_summary"] = _run_once(registry, "helper", batch_size=args.batch_size)
    out["helper_s"] = time.perf_counter() - t0
    cpu1 = _cpu_s(registry)
    if cpu0 is not None and cpu1 is not None:
        out["helper_cpu_s"] = cpu1 - cpu0


def _start_helpers(args, sections, *extra):
    """Start ``args.workers - 1`` helper processes running ``sections`` on this
    database, and return [(process, its results file)] once each has loaded its
    registry: a run's helper is a cron worker of a running Odoo server, loaded when
    the run triggers it, so a helper's start (3 to 4 s of imports and registry
    loading) is no part of the run measured."""
    import subprocess
    import tempfile

    helpers = []
    for _n in range(args.workers - 1):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({}, f)
        cmd = [sys.executable, os.path.abspath(__file__), "-c", args.config, "-d", args.database, "run"]
        cmd += ["--sections", sections, "--results", f.name, "--ready-file", f"{f.name}.ready", *extra]
        if args.batch_size:
            cmd += ["--batch-size", str(args.batch_size)]
        helpers.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL), f.name))
    deadline = time.monotonic() + 300
    for helper, results in helpers:
        while not os.path.exists(f"{results}.ready"):
            if helper.poll() is not None or time.monotonic() > deadline:
                for other, other_results in helpers:  # a steady helper would wait for ever
                    other.kill()
                    for path in (other_results, f"{other_results}.ready"):
                        if os.path.exists(path):
                            os.unlink(path)
                raise RuntimeError(f"helper {helper.args} did not start (exit code {helper.returncode})")
            time.sleep(0.05)
        os.unlink(f"{results}.ready")
    return helpers


def section_parallel(registry, args, out):
    """The scheduled action and its helpers at once (--workers in all, 2 by default),
    as cron worker processes of Odoo's multi-process server (or of several servers):
    each helper runs in another process and claims batches of the run."""
    with registry.cursor() as cr:
        _env(cr)["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", args.workers)
    helpers = _start_helpers(args, "helper")
    q0 = _sql_count()
    t0 = time.perf_counter()
    main = _run_once(registry, "cron", batch_size=args.batch_size)
    main_s = time.perf_counter() - t0
    out["workers"] = {
        "main": {"s": round(main_s, 1), **{k: main[k] for k in ("partners", "events", "locked")}}
    }
    out["summary"] = dict(main)
    out["errors"] = []
    helpers_cpu = []
    for n, (helper, results) in enumerate(helpers, 1):
        rc = helper.wait()
        with open(results) as f:
            helper_out = json.load(f)
        os.unlink(results)
        helper_summary = helper_out.get("helper_summary") or {}
        for k, v in helper_summary.items():
            if isinstance(v, int) and isinstance(out["summary"].get(k, 0), int):
                out["summary"][k] = out["summary"].get(k, 0) + v
        out["workers"][f"helper{n}"] = {
            "s": round(helper_out.get("helper_s", 0), 1),
            **{k: helper_summary.get(k) for k in ("partners", "events", "locked")},
        }
        if rc != 0 or not helper_summary:
            out["errors"].append(f"helper {n} exited {rc}")
        helpers_cpu.append(helper_out.get("helper_cpu_s"))
    # None when a helper could not read its processor time
    out["helpers_cpu_s"] = None if None in helpers_cpu else sum(helpers_cpu)
    out["run_s"] = time.perf_counter() - t0
    out["queries"] = _sql_count() - q0  # the main worker's
    with registry.cursor() as cr:
        cr.execute("SELECT count(*), count(DISTINCT worker) FROM dunning_run_batch WHERE state = 'done'")
        out["batches"], out["batch_workers"] = cr.fetchone()
    _check(registry, out)


def section_resume(registry, args, out):
    """A cron job cut by its time limit after its first batch, then resumed."""
    first = _run_once(registry, "cron", end_time=0.0, batch_size=args.batch_size)  # stops after one batch
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM dunning_event")
        out["events_after_cut"] = cr.fetchone()[0]
    second = _run_once(registry, "cron", batch_size=args.batch_size)
    out["first_partners"], out["resumed_partners"] = first["partners"], second["partners"]
    _check(registry, out)


# ---------------------------------------------------------------------- access outbox
def _outbox_setup(registry, size, sim):
    """N platform accounts (over the bench customers), each a user on the simulator
    with a pending restriction call. Committed: every measured pass starts from it."""
    with registry.cursor() as cr:
        env = _env(cr)
        company = env.ref("base.main_company")
        platform = env["dunning.access.platform"].create(
            {
                "name": "Bench Traccar",
                "kind": "traccar",
                "base_url": sim.url,
                "auth_type": "token",
                "token": "bench-token",
                "company_id": company.id,
            }
        )
        cr.execute(
            "SELECT id FROM res_partner WHERE name LIKE 'Bench Customer %%' ORDER BY id LIMIT %s", (size,)
        )
        partner_ids = [row[0] for row in cr.fetchall()]
        if not partner_ids:
            raise SystemExit("no bench customers: build the data first")
        refs = [str(100000 + i) for i in range(size)]
        bindings = env["dunning.access.binding"].create(
            [
                {
                    "partner_id": partner_ids[i % len(partner_ids)],
                    "platform_id": platform.id,
                    "external_ref": ref,
                    "desired_state": "restricted",
                    "state_reason": "Bench: level Restriction reached",
                }
                for i, ref in enumerate(refs)
            ]
        )
        env["dunning.access.call"].create(
            [
                {
                    "binding_id": binding.id,
                    "action": "restrict",
                    "target_state": "restricted",
                    "reason": "Bench: level Restriction reached",
                    "idempotency_key": f"bench-{binding.external_ref}",
                    "payload": "{}",
                }
                for binding in bindings
            ]
        )
        # Nothing else is due: only the bench calls are measured.
        cr.execute(
            "UPDATE dunning_access_call SET next_attempt = now() at time zone 'UTC' - interval '1 minute'"
        )
        cr.commit()
        return platform.id, refs


def _sim_seed(sim, refs):
    """The platform as it was before dunning: fresh users, none restricted."""
    with sim.lock:
        sim.users = {uid: user for uid, user in sim.users.items() if uid == sim.admin["id"]}
        sim.requests.clear()
    for ref in refs:
        sim.add_user(f"{ref}@fleet.bench.example.com", user_id=int(ref), name=f"Fleet {ref}")


def _set_latency(sim, seconds):
    """Through the simulator's fault-injection API, as a standalone run would."""
    import requests

    requests.post(
        f"{sim.url}/_sim/faults", json={"reset": True, "delay": seconds}, timeout=10
    ).raise_for_status()


def _measure_rtt(sim, samples=20):
    """Median round trip of one authenticated GET, the unit of the serial estimate."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = "Bearer bench-token"
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        session.get(f"{sim.url}/api/users/{sim.admin['id']}", timeout=10).raise_for_status()
        times.append(time.perf_counter() - t0)
    session.close()
    return sorted(times)[len(times) // 2]


def section_outbox(registry, args, out):
    """The access outbox against the tracking simulator: N restriction calls sent
    with max_concurrency 1 and higher bounds. Each pass runs in a transaction
    rolled back afterwards, on a freshly seeded simulator."""
    from odoo.addons.dunning_ruler_access.tests.simulator import TrackingSimulator

    size = args.size or 500
    sim = TrackingSimulator("admin@bench.example.com", "bench-admin", token="bench-token").start(
        int(os.environ.get("DUNNING_BENCH_SIM_PORT") or 0)
    )
    try:
        platform_id, refs = _outbox_setup(registry, size, sim)
        _set_latency(sim, args.latency_ms / 1000)
        rtt = _measure_rtt(sim)
        passes = []
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            # A serial pass over 10k calls would take minutes: measured on a sample.
            n = size if concurrency > 1 or size <= args.serial_max else args.serial_max
            _sim_seed(sim, refs)
            with registry.cursor() as cr:
                env = _env(cr)
                env["dunning.access.platform"].browse(platform_id).max_concurrency = concurrency
                if n < size:
                    cr.execute(
                        "UPDATE dunning_access_call SET next_attempt = next_attempt + interval '1 day' "
                        "WHERE id NOT IN "
                        "(SELECT id FROM dunning_access_call ORDER BY next_attempt, id LIMIT %s)",
                        (n,),
                    )
                env.flush_all()
                t0 = time.perf_counter()
                summary = env["dunning.access.platform"].process_outbox()
                elapsed = time.perf_counter() - t0
                cr.execute("SELECT count(*) FROM dunning_access_call WHERE state = 'done'")
                done = cr.fetchone()[0]
                cr.rollback()
            restricted = sum(
                1
                for ref in refs
                if sim.users[int(ref)]["limitCommands"] and not sim.users[int(ref)]["disabled"]
            )
            passes.append(
                {
                    "concurrency": concurrency,
                    "calls": n,
                    "wall_s": elapsed,
                    "calls_per_s": n / elapsed,
                    "sent": summary["sent"],
                    "retry": summary["retry"],
                    "attention": summary["attention"],
                    "done": done,
                    "restricted_users": restricted,
                    "requests": len(sim.requests),
                    "estimated_full_s": elapsed * size / n,
                }
            )
        out["outbox"] = {
            "size": size,
            "latency_ms": args.latency_ms,
            "rtt_s": rtt,
            "requests_per_call": passes[0]["requests"] / max(passes[0]["calls"], 1),
            "passes": passes,
        }
    finally:
        sim.stop()


# ---------------------------------------------------------------------- steady state
STEADY_DAYS = 30


def section_steady(registry, args, out):
    """The daily runs after the first one: the next 30 days over the same open
    invoices (no payment, no new invoice), each dated one day later, run the way the
    scheduled action runs them: commit per batch, with its helper scheduled actions
    (``--workers`` in all, 2 by default as ``dunning_ruler.parallel_workers``), each
    helper a process of its own that claims the day's batches as soon as they are
    published. A day lasts until its last batch is done. Per day: wall time, events
    and messages (distinct emails sent)."""
    import tempfile

    with registry.cursor() as cr:
        _env(cr)["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", args.workers)
    stop = os.path.join(tempfile.mkdtemp(prefix="dunning_steady_"), "stop")
    helpers = _start_helpers(args, "steady_helper", "--stop-file", stop)
    days = []
    try:
        for offset in range(1, STEADY_DAYS + 1):
            day = AS_OF + timedelta(days=offset)
            t0 = time.perf_counter()
            with registry.cursor() as cr:
                env = _env(cr)
                cron_env, _progress = _cron_env(env, float("inf"))
                summary = cron_env["dunning.ruler"].run_dunning(as_of=day)
                cr.commit()
            # The helpers may still be dunning the last batches they claimed.
            with registry.cursor() as cr:
                while True:
                    cr.execute(
                        "SELECT count(*) FROM dunning_run_batch WHERE state = 'pending' AND as_of = %s",
                        (day,),
                    )
                    if not cr.fetchone()[0]:
                        break
                    cr.rollback()
                    time.sleep(0.02)
            seconds = time.perf_counter() - t0
            with registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*), count(DISTINCT mail_message_id) FILTER (WHERE channel = 'email')"
                    " FROM dunning_event WHERE date = %s",
                    (day,),
                )
                events, messages = cr.fetchone()
                cr.execute(
                    "SELECT count(*), count(DISTINCT worker) FROM dunning_run_batch WHERE as_of = %s", (day,)
                )
                batches, batch_workers = cr.fetchone()
            days.append(
                {
                    "date": str(day),
                    "s": seconds,
                    "events": events,
                    "messages": messages,
                    "batches": batches,
                    "batch_workers": batch_workers,
                    "main_events": summary["events"],
                }
            )
            _logger.info(
                "steady state %s: %.2f s, %s events, %s messages, %s batches by %s workers",
                day,
                seconds,
                events,
                messages,
                batches,
                batch_workers,
            )
    finally:
        with open(stop, "w"):
            pass
        for helper, results in helpers:
            helper.wait(timeout=600)
            os.unlink(results)
        shutil.rmtree(os.path.dirname(stop))
    out["steady"] = days
    out["steady_workers"] = args.workers


def section_steady_helper(registry, args, out):
    """A helper scheduled action over the steady-state days (started by section_steady):
    whenever batches are pending, it runs as ``_cron_run_dunning_helper`` does and
    claims them, until the stop file exists."""
    while not os.path.exists(args.stop_file):
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM dunning_run_batch WHERE state = 'pending'")
            pending = cr.fetchone()[0]
        if pending:
            _run_once(registry, "helper")
        else:
            time.sleep(0.02)


def _report_steady(out):
    days = out["steady"]
    times = sorted(d["s"] for d in days)
    median = (
        times[len(times) // 2]
        if len(times) % 2
        else sum(times[len(times) // 2 - 1 : len(times) // 2 + 1]) / 2
    )
    worst = max(days, key=lambda d: d["s"])
    batches = ""
    if "batches" in worst:
        batches = f", {worst['batches']} batches by {worst['batch_workers']} workers"
    print(
        f"steady state: {len(days)} daily runs after the first, "
        f"{out.get('steady_workers', 1)} worker(s) (the scheduled action and its helpers): "
        f"median {median:.2f} s, worst {worst['s']:.2f} s ({worst['date']}, {worst['events']} events, "
        f"{worst['messages']} messages{batches}); "
        f"target under {TARGET_STEADY_S} s per day: {'met' if worst['s'] < TARGET_STEADY_S else 'NOT met'}"
    )
    print("     per day: seconds " + "/".join(f"{d['s']:.1f}" for d in days))
    print(
        "     per day: events "
        + "/".join(str(d["events"]) for d in days)
        + "; messages "
        + "/".join(str(d["messages"]) for d in days)
    )


# ---------------------------------------------------------------------- OCA credit control
# Issue 16: the same data through OCA's account_credit_control (installed into the
# bench database only by ``setup/bench --mode oca``), driven as its UI drives it.
TARGET_OCA_RATIO = 20


def _cpu_s(registry):
    """Processor seconds so far of this process and of its PostgreSQL backends (read
    in /proc: a local server; Odoo names its connections after the process), or
    None. Less sensitive than wall time to what else runs on the machine: the two
    runs are minutes apart. The workers of a run in several processes each count
    their own (``section_helper``)."""
    from odoo.tools import config

    app_name = config["db_app_name"].replace("{pid}", str(os.getpid()))[:63]
    with registry.cursor() as cr:
        cr.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            (app_name,),
        )
        pids = [row[0] for row in cr.fetchall()]
    total, tick = time.process_time(), os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(stat[11]) + int(stat[12])) / tick  # utime, stime
    return total


def section_oca_run(registry, args, out):
    """The Dunning Ruler side of --mode oca: its first run as the scheduled action
    runs it with ``--workers`` workers in all (2: the product's default, the action
    and its helper, each a process: ``section_parallel``; 1: ``section_run``), with
    its processor time, every worker's, up to its checks (which rerun the dunning)."""
    check, cpu0 = _check, _cpu_s(registry)

    def timed_check(registry, out):
        cpu1 = _cpu_s(registry)
        helpers = out.get("helpers_cpu_s", 0)
        if cpu0 is not None and cpu1 is not None and helpers is not None:
            out["run_cpu_s"] = cpu1 - cpu0 + helpers
        check(registry, out)

    out["run_workers"] = args.workers
    globals()["_check"] = timed_check
    try:
        (section_parallel if args.workers > 1 else section_run)(registry, args, out)
    finally:
        globals()["_check"] = check


def _oca_setup(env):
    """The configuration a user would make in Credit Control > Configuration: one
    policy per dunning grade whose levels are its ruler's overdue levels (offset > 0,
    the grade's grace days added: OCA cannot remind before the due date), email
    channel, the invoice table in the mail, a mail template; the default grade's
    policy is the company's, the other grades' are set on their customers, customers
    never dunned get OCA's own "No follow" policy. Returns the policies to run."""
    from odoo import Command

    company = env.ref("base.main_company")
    accounts = env["account.account"].search(
        [("account_type", "=", "asset_receivable"), ("company_ids", "in", company.ids)]
    )
    # OCA's own template, without its PDF summary attachment (the Dunning Ruler
    # reminders carry their invoice table in the body, no PDF).
    base = env.ref("account_credit_control.email_template_credit_control_base")
    template = base.copy({"name": "Bench: credit control email", "report_template_ids": [Command.clear()]})
    no_follow = env.ref("account_credit_control.credit_control_no_follow")
    policies = env["credit.control.policy"]
    default_grade = company.dunning_default_grade_id
    for grade in env["dunning.grade"].search([("company_id", "=", company.id)]):
        if grade.no_dunning:
            policy = no_follow
        else:
            levels = grade.ruler_id.level_ids.filtered(lambda lv: lv.offset_days > 0).sorted("sequence")
            policy = policies.create(
                {
                    "name": f"Bench: {grade.name}",
                    "account_ids": [Command.set(accounts.ids)],
                    "level_ids": [
                        Command.create(
                            {
                                "name": level.name,
                                "level": n,
                                "computation_mode": "net_days",
                                "delay_days": level.offset_days + grade.grace_days,
                                "channel": "email",
                                "email_template_id": template.id,
                                "custom_text": level.name,
                                "custom_mail_text": f"<p>{level.name}: the invoices below are overdue.</p>",
                                "mail_show_invoice_detail": True,
                            }
                        )
                        for n, level in enumerate(levels, start=1)
                    ],
                }
            )
            policies |= policy
        if grade == default_grade:
            company.credit_policy_id = policy
        else:
            customers = env["res.partner"].search([("dunning_grade_id", "=", grade.id)])
            customers.credit_policy_id = policy
    return policies | no_follow


def section_oca(registry, args, out):
    """OCA account_credit_control on the same data: a credit control run
    (``generate_credit_lines``, the "Compute Credit Control Lines" button), "Set to
    ready all" and "Run channel action" (communications aggregated per customer,
    level and currency, one email each from the level's template), each step
    committed like the UI's request. Emails are queued, not sent (as the Dunning
    Ruler run queues them): without ``mail_notify_force_send=False`` Odoo would send
    each communication's email over SMTP right after the commit."""
    from odoo import Command

    with registry.cursor() as cr:
        env = _env(cr)
        policies = _oca_setup(env)
        cr.commit()
    steps = {}
    cpu0 = _cpu_s(registry)
    rss0 = _maxrss_mb()
    q0 = _sql_count()
    t_all = time.perf_counter()
    with _time_spent() as spent, registry.cursor() as cr:
        env = _env(cr, {"mail_notify_force_send": False})
        t0 = time.perf_counter()
        run = env["credit.control.run"].create({"date": AS_OF, "policy_ids": [Command.set(policies.ids)]})
        run.generate_credit_lines()
        cr.commit()
        steps["policy_run_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run.set_to_ready_lines()
        cr.commit()
        steps["set_ready_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run.run_channel_action()
        cr.commit()
        steps["communications_s"] = time.perf_counter() - t0
    oca = {"wall_s": time.perf_counter() - t_all, **steps}
    cpu1 = _cpu_s(registry)
    if cpu0 is not None and cpu1 is not None:
        oca["cpu_s"] = cpu1 - cpu0
    oca["time_spent"] = dict(spent)
    oca["queries"] = _sql_count() - q0
    oca["rss_growth_mb"] = _maxrss_mb() - rss0
    with registry.cursor() as cr:
        cr.execute(
            "SELECT count(*), count(*) FILTER (WHERE channel = 'email'), "
            "count(DISTINCT commercial_partner_id), count(DISTINCT invoice_id), "
            "count(*) FILTER (WHERE state = 'queued') FROM credit_control_line"
        )
        keys = ("lines", "email_lines", "partners", "invoices", "lines_queued")
        oca.update(zip(keys, cr.fetchone(), strict=True))
        cr.execute(
            "SELECT count(DISTINCT c.id), count(DISTINCT c.id) FILTER (WHERE l.channel = 'email') "
            "FROM credit_control_communication c JOIN credit_control_line l ON l.communication_id = c.id"
        )
        oca["communications"], oca["email_communications"] = cr.fetchone()
        cr.execute(
            "SELECT count(*) FROM mail_mail mm JOIN mail_message m ON m.id = mm.mail_message_id "
            "WHERE m.model = 'credit.control.communication' AND mm.state = 'outgoing'"
        )
        oca["mails_queued"] = cr.fetchone()[0]
    out["oca"] = oca


def _fmt_s(seconds):
    return "-" if seconds is None else f"{seconds:.1f}"


def _oca_report_lines(size, out):
    """The Dunning Ruler run and OCA's side by side, and the target (issue 16)."""
    o, s = out["oca"], out.get("summary") or {}
    lines = [f"OCA account_credit_control on the same {size} invoices (emails queued, not sent):"]
    lines.append(
        f"     policy run {o['policy_run_s']:.1f} s + set to ready {o['set_ready_s']:.1f} s"
        f" + communications and emails {o['communications_s']:.1f} s = {o['wall_s']:.1f} s wall,"
        f" {o['queries']} SQL queries, peak RSS +{o['rss_growth_mb']:.0f} MB"
    )
    spent = o.get("time_spent") or {}
    if spent:
        parts = [
            ("PostgreSQL", spent.get("sql", 0.0)),
            ("sanitising", spent.get("sanitize", 0.0)),
            ("QWeb", spent.get("qweb", 0.0)),
        ]
        parts.append(("the rest", o["wall_s"] - sum(t for _n, t in parts)))
        lines.append(
            "     where the time goes: "
            + ", ".join(f"{n} {t:.1f} s ({t / o['wall_s']:.0%})" for n, t in parts)
        )
    width = 16
    # Distinct messages and queued emails: since issue 16 a customer's email events of
    # one run share one message (email events: the "email events" row).
    ours_queued = out.get("mails_queued", "-")
    workers = out.get("run_workers", 1)
    lines.append(
        f"     {'':<{width}} {'Dunning Ruler':>14} {'OCA':>10}"
        f"   (Dunning Ruler: {workers} worker{'s' if workers > 1 else ''}, see --workers)"
    )
    rows = [
        ("wall time (s)", f"{out['run_s']:.1f}" if "run_s" in out else "-", f"{o['wall_s']:.1f}"),
        ("processor (s)", _fmt_s(out.get("run_cpu_s")), _fmt_s(o.get("cpu_s"))),
        ("customers", s.get("partners", "-"), o["partners"]),
        ("invoices", s.get("invoices", "-"), o["invoices"]),
        ("events / lines", s.get("events", "-"), o["lines"]),
        ("email events", out.get("emails_done", "-"), "-"),
        ("email messages", out.get("email_messages", "-"), o["email_communications"]),
        ("emails queued", ours_queued, o["mails_queued"]),
        ("no address", out.get("emails_failed", "-"), o["communications"] - o["email_communications"]),
    ]
    for label, ours, theirs in rows:
        lines.append(f"     {label:<{width}} {ours!s:>14} {theirs!s:>10}")
    if out.get("run_s"):
        # Judged on wall time over the same data. The work differs: OCA's first run
        # gives every overdue installment its first level only (a level needs the
        # previous one sent), the ruler catches up and also reminds before the due
        # date; the time per email queued is printed beside it.
        ratio = o["wall_s"] / out["run_s"]
        met = "met" if ratio >= TARGET_OCA_RATIO else "NOT met"
        target = f"at least {TARGET_OCA_RATIO}x faster than OCA credit control"
        per_email = ""
        if isinstance(ours_queued, int) and ours_queued and o["mails_queued"]:
            ours_ms, theirs_ms = out["run_s"] / ours_queued * 1000, o["wall_s"] / o["mails_queued"] * 1000
            per_email = (
                f"; per email queued {ours_ms:.1f} ms vs {theirs_ms:.1f} ms ({theirs_ms / ours_ms:.1f}x)"
            )
        cpu = ""
        if out.get("run_cpu_s") and o.get("cpu_s"):
            cpu = f"; processor time {o['cpu_s'] / out['run_cpu_s']:.1f}x"
        lines.append(
            f"targets: {target}: {met} on wall time ({ratio:.1f}x, Dunning Ruler with {workers}"
            f" worker{'s' if workers > 1 else ''}){cpu}{per_email}"
        )
    return lines


SECTIONS = {
    "selection": section_selection,
    "steady": section_steady,
    "steady_helper": section_steady_helper,
    "run": section_run,
    "concurrent": section_concurrent,
    "resume": section_resume,
    "helper": section_helper,
    "parallel": section_parallel,
    "outbox": section_outbox,
    "oca_run": section_oca_run,
    "oca": section_oca,
}


# Issue 6's targets on the 2-core machine: planning within 5x the bare selection,
# 100k invoices dunned in under 60 s.
TARGET_PLAN_RATIO = 5
TARGET_100K_S = 60
# Issue 16: each daily run after the first in under 5 s.
TARGET_STEADY_S = 5


def _report_targets(size, out):
    """Say whether the figures meet the targets (informative: RESULT is about
    correctness, the figures depend on the machine)."""
    targets = []
    if "preview_s" in out:
        ratio = out["preview_s"] / max(out["bare_sql_s"], 1e-9)
        met = "met" if ratio <= TARGET_PLAN_RATIO else "NOT met"
        targets.append(f"plan within {TARGET_PLAN_RATIO}x bare SQL: {met} ({ratio:.1f}x)")
    if "run_s" in out and size >= 100_000:
        met = "met" if out["run_s"] < TARGET_100K_S else "NOT met"
        targets.append(f"100k in under {TARGET_100K_S} s: {met} ({out['run_s']:.1f} s)")
    if targets:
        print("targets: " + "; ".join(targets))


def report(size, out):
    print(f"\n=== dunning benchmark: {size} invoices, as of {AS_OF} ===")
    if "bare_sql_s" in out:
        print(
            "bare SQL selection of overdue installments: "
            f"{out['bare_sql_s'] * 1000:.0f} ms ({out['bare_sql_rows']} rows)"
        )
        print(
            "engine preview (plan, no side effect):      "
            f"{out['preview_s'] * 1000:.0f} ms ({out['preview_steps']} steps)"
            f"  = {out['preview_s'] / max(out['bare_sql_s'], 1e-9):.1f}x bare SQL"
        )
    if "summary" in out:
        s = out["summary"]
        print(
            f"run: {out['run_s']:.1f} s wall, {size / out['run_s']:.0f} invoices/s, "
            f"{out['queries']} SQL queries"
            # (not measured across the processes of --mode parallel)
            + (f", peak RSS +{out['rss_growth_mb']:.0f} MB" if "rss_growth_mb" in out else "")
            + (
                f", tracemalloc peak {out['tracemalloc_peak_mb']:.0f} MB"
                if "tracemalloc_peak_mb" in out
                else ""
            )
        )
        print(
            f"     {s['partners']} customers, {s['invoices']} invoices, {s['events']} events "
            f"({s['done']} done, {s['skipped']} skipped, {s['failed']} failed)"
        )
    if "time_spent" in out:
        spent, total = out["time_spent"], out["run_s"]
        parts = [
            ("PostgreSQL", spent.get("sql", 0.0)),
            ("sanitising message bodies", spent.get("sanitize", 0.0)),
            ("QWeb rendering", spent.get("qweb", 0.0)),
        ]
        parts.append(("the rest (ORM, planning, subjects)", total - sum(t for _n, t in parts)))
        print("     where the time goes: " + ", ".join(f"{n} {t:.1f} s ({t / total:.0%})" for n, t in parts))
    if "pg_settings" in out:
        print("     PostgreSQL server: " + ", ".join(f"{k}={v}" for k, v in out["pg_settings"].items()))
    if "workers" in out:
        print(
            f"concurrent workers: {out['run_s']:.1f} s wall; {out['workers']}; "
            f"errors: {out['errors'] or 'none'}"
        )
    if "batches" in out:
        print(f"     {out['batches']} batches claimed by {out['batch_workers']} workers")
    if "events_after_cut" in out:
        print(
            f"resume: cut after {out['first_partners']} customers ({out['events_after_cut']} events), "
            f"resumed with {out['resumed_partners']} more"
        )
    if "steady" in out:
        _report_steady(out)
    _report_targets(size, out)
    if "duplicates" in out:
        print(
            f"checks: {out['duplicates']} duplicate (installment, level, channel), "
            f"{out['emails_done']} email events done ({out['email_messages']} messages; "
            f"{out['emails_without_mail']} without a queued mail, "
            f"{out['emails_failed']} failed: no address), "
            f"rerun created {out['rerun_events']} events"
        )
    if "outbox" in out:
        o = out["outbox"]
        per_call = o["requests_per_call"]
        print(
            f"access outbox: {o['size']} restriction calls, simulator latency {o['latency_ms']:.0f} ms "
            f"per request, {per_call:.0f} requests per call (GET user, GET sub-users, PUT user); "
            f"measured round trip {o['rtt_s'] * 1000:.1f} ms"
        )
        serial = o["size"] * per_call * o["latency_ms"] / 1000
        print(
            f"     theoretical N x round trip: {o['size']} x {per_call:.0f} x {o['latency_ms']:.0f} ms"
            f" = {serial:.1f} s"
        )
        for p in o["passes"]:
            sample = (
                ""
                if p["calls"] == o["size"]
                else f" (sample; all {o['size']}: ~{p['estimated_full_s']:.0f} s)"
            )
            print(
                f"     max_concurrency {p['concurrency']:>2}: {p['wall_s']:.1f} s wall, "
                f"{p['calls_per_s']:.0f} calls/s, {p['done']}/{p['calls']} done, "
                f"{p['restricted_users']} users restricted, {p.get('retry', 0)} left for retry, "
                f"{p.get('attention', 0)} need attention{sample}"
            )
    if "oca" in out:
        print("\n".join(_oca_report_lines(size, out)))
    # A transient failure is retried by the next outbox run: shown, not a failure.
    ok = all(
        p["done"] == p["sent"] == p["restricted_users"] == p["calls"] - p.get("retry", 0)
        and not p.get("attention")
        for p in out.get("outbox", {}).get("passes", [])
    )
    ok = ok and (
        out.get("duplicates", 0) == 0
        and out.get("rerun_events", 0) == 0
        and out.get("emails_without_mail", 0) == 0
    )
    ok = ok and not out.get("errors")
    print("RESULT:", "OK" if ok else "FAILED")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--size", type=int, default=1000)
    r = sub.add_parser("run")
    r.add_argument("--size", type=int, default=0, help="for the invoices/s figure")
    r.add_argument("--sections", default="selection,run")
    r.add_argument("--mode", default="cron", choices=["cron", "single"])
    r.add_argument("--batch-size", type=int, default=0)
    r.add_argument("--workers", type=int, default=2, help="concurrent, parallel: workers in all")
    r.add_argument("--tracemalloc", action="store_true")
    r.add_argument("--latency-ms", type=float, default=20.0, help="outbox: simulator delay per request")
    r.add_argument("--concurrency", default="1,8,16", help="outbox: max_concurrency values measured")
    r.add_argument("--serial-max", type=int, default=500, help="outbox: calls sent at concurrency 1 at most")
    r.add_argument("--results", help="JSON file accumulating the figures of several invocations")
    r.add_argument("--stop-file", help="steady_helper: stop when this file exists")
    r.add_argument("--ready-file", help="helpers: created once the registry is loaded")
    args = parser.parse_args()
    registry = _odoo(args.config, args.database)
    if getattr(args, "ready_file", None):
        with open(args.ready_file, "w"):
            pass
    if args.command == "build":
        build(registry, args.size)
        return 0
    out = {}
    if args.results and os.path.exists(args.results):
        with open(args.results) as f:
            out = json.load(f)
    for name in args.sections.split(","):
        SECTIONS[name](registry, args, out)
    if args.results:
        with open(args.results, "w") as f:
            json.dump(out, f, default=str)
    return 0 if report(args.size, out) else 1


if __name__ == "__main__":
    sys.exit(main())
