"""Scale-out (issue 16): a scheduled run shared by several workers, with real commits.

Each test works on its own copy of a database prepared once: the test database
(every addon installed) plus customers with overdue invoices, committed. The
reference is the same run done by one worker in one transaction, on the prepared
database itself. Checked for every way of sharing a run:

* no installment gets a level twice on a channel (0 duplicates);
* the same events (customer, level, channel, state) as the one-worker run;
* every batch done once; a rerun does nothing.

The ways: the scheduled action and helper scheduled actions as threads with their
own connections (as cron workers of one or several servers); a scheduled action
cut by its time limit, then called again; and, with dunning_ruler_queue_job, the
scheduled action in a real multi-process Odoo server (``odoo-bin --workers=2``)
whose job runner hands one job per batch to its HTTP workers.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

import odoo
import odoo.release
from odoo import SUPERUSER_ID, Command, api, fields
from odoo.modules.registry import Registry
from odoo.tests.common import get_db_name
from odoo.tools import config

CUSTOMERS = 30
BATCH_SIZE = 5  # 6 batches
WORKERS = 3
JOB_TIMEOUT = 100  # seconds for the server to dunn every batch


# ---------------------------------------------------------------- databases
def _admin_cursor():
    cnx = odoo.sql_db.db_connect("postgres")
    cr = cnx.cursor()
    cr._cnx.autocommit = True
    return closing(cr)


def _disconnect(cr, db):
    cr.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid != pg_backend_pid()",
        (db,),
    )


def _drop(db):
    if db in Registry.registries:
        Registry.delete(db)
    odoo.sql_db.close_db(db)
    with _admin_cursor() as cr:
        _disconnect(cr, db)
        cr.execute(f'DROP DATABASE IF EXISTS "{db}"')
    shutil.rmtree(config.filestore(db), ignore_errors=True)


def _copy(source, target):
    """A copy of ``source`` (database and file store), which nobody may be using."""
    _drop(target)
    odoo.sql_db.close_db(source)
    with _admin_cursor() as cr:
        _disconnect(cr, source)
        cr.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    if os.path.isdir(config.filestore(source)):
        shutil.copytree(config.filestore(source), config.filestore(target), copy_function=os.link)


def _registry(db):
    """The registry of ``db``, loaded without running tests (pytest-odoo turns
    ``test_enable`` on for the test modules)."""
    if db not in Registry.registries:
        test_enable = config["test_enable"]
        config["test_enable"] = False
        try:
            Registry(db)
        finally:
            config["test_enable"] = test_enable
    return Registry(db)


@contextmanager
def _env(db, context=None):
    with _registry(db).cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, dict(context or {}))


def _today(db):
    with _env(db) as env:
        return fields.Date.context_today(env.user)


def _prepare(db):
    """Customers with overdue invoices (several levels due, the lower ones caught up as
    skipped), batches of BATCH_SIZE customers, WORKERS workers."""
    with _env(db) as env:
        today = fields.Date.context_today(env.user)
        env["ir.config_parameter"].set_param("dunning_ruler.batch_size", BATCH_SIZE)
        env["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", WORKERS)
        partners = env["res.partner"].create(
            [
                {"name": f"Scale-out {i}", "is_company": True, "email": f"scale.out.{i}@example.com"}
                for i in range(CUSTOMERS)
            ]
        )
        moves = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": today - timedelta(days=days + 30),
                    "invoice_date_due": today - timedelta(days=days),
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Subscription", "quantity": 1, "price_unit": 90.0 + i, "tax_ids": []}
                        )
                    ],
                }
                for i, partner in enumerate(partners)
                for days in (3, 12)
            ]
        )
        moves.action_post()
        # the helper scheduled actions of WORKERS workers exist before the run
        env["dunning.engine"]._trigger_helper()
        env.cr.execute("DELETE FROM ir_cron_trigger")
        env.cr.commit()
    return today


def _outcome(db):
    """(duplicates, Counter of (customer, level, channel, state) of the events, batches)."""
    with _env(db) as env:
        cr = env.cr
        cr.execute(
            """SELECT count(*) FROM (
                   SELECT r.line_id, e.level_id, e.channel
                     FROM dunning_event e
                     JOIN dunning_event_account_move_line_rel r ON r.event_id = e.id
                 GROUP BY 1, 2, 3 HAVING count(*) > 1) dup"""
        )
        duplicates = cr.fetchone()[0]
        cr.execute("SELECT partner_id, level_id, channel, state FROM dunning_event")
        events = Counter(cr.fetchall())
        cr.execute("SELECT run_key, state, partner_count, worker FROM dunning_run_batch ORDER BY id")
        batches = cr.fetchall()
    return duplicates, events, batches


def _cron_env(env, xmlid, end_time=float("inf")):
    """The context ir.cron gives a scheduled action: a progress record, commits per batch."""
    cron = env.ref(xmlid)
    cron, _progress = cron._add_progress()
    env.cr.commit()
    return cron.with_context(cron_id=cron.id, cron_end_time=end_time).env


def _run_cron(db, xmlid, end_time=float("inf"), helper=False):
    with _env(db) as env:
        cron_env = _cron_env(env, xmlid, end_time)
        Ruler = cron_env["dunning.ruler"]
        summary = Ruler._cron_run_dunning_helper() if helper else Ruler._cron_run_dunning()
        env.cr.commit()
        return summary


def _rerun_events(db):
    with _env(db) as env:
        summary = env["dunning.ruler"].run_dunning()
        env.cr.rollback()
        return summary["events"]


@pytest.fixture(scope="module")
def databases():
    """{name: database}: copies of the prepared database, and the one-worker reference
    outcome (``reference``, done on the prepared database after the copies)."""
    test_db = get_db_name()
    names = {kind: f"{test_db}_so_{kind}" for kind in ("base", "crons", "resume", "jobs")}
    try:
        _copy(test_db, names["base"])
        today = _prepare(names["base"])
        for kind in ("crons", "resume", "jobs"):
            _copy(names["base"], names[kind])
            if kind != "jobs":
                # the scheduled action and its helpers share the run, not queue jobs
                with _env(names[kind]) as env:
                    env["ir.config_parameter"].set_param("dunning_ruler_queue_job.enabled", "False")
        with _env(names["base"]) as env:
            summary = env["dunning.ruler"].run_dunning()
            env.cr.commit()
        duplicates, events, _batches = _outcome(names["base"])
        assert duplicates == 0
        assert summary["partners"] == CUSTOMERS
        assert sum(events.values()) > 2 * CUSTOMERS, "levels sent and caught up"
        yield dict(names, today=today, reference=events, reference_summary=summary)
    finally:
        for db in names.values():
            _drop(db)


def _assert_same_run(db, reference):
    duplicates, events, batches = _outcome(db)
    assert duplicates == 0
    assert events == reference, "the same events as one worker"
    assert len(batches) == CUSTOMERS // BATCH_SIZE
    assert {state for _key, state, _count, _worker in batches} == {"done"}
    assert len({key for key, *_rest in batches}) == 1, "one run, published once"
    assert sum(count for _key, _state, count, _worker in batches) == CUSTOMERS
    assert _rerun_events(db) == 0, "a rerun does nothing"
    return batches


# ---------------------------------------------------------------- cron workers
def test_cron_workers_share_a_run(databases):
    """The scheduled action and WORKERS - 1 helper scheduled actions at once, each with
    its own connection: every batch is claimed by one of them."""
    db = databases["crons"]
    registry = _registry(db)
    with _env(db) as env:
        helpers = env["dunning.engine"]._trigger_helper()
        helper_xmlids = []
        for helper in helpers:
            xmlid = helper.get_external_id()[helper.id] or f"__test__.dunning_helper_{helper.id}"
            if not helper.get_external_id()[helper.id]:
                env["ir.model.data"].create(
                    {
                        "module": "__test__",
                        "name": f"dunning_helper_{helper.id}",
                        "model": "ir.cron",
                        "res_id": helper.id,
                    }
                )
            helper_xmlids.append(xmlid)
        env.cr.commit()
    assert len(helper_xmlids) == WORKERS - 1
    results, errors = {}, []

    def published():
        with closing(registry.cursor()) as cr:
            cr.execute("SELECT count(*) FROM dunning_run_batch WHERE state = 'pending'")
            return cr.fetchone()[0]

    def worker(name, xmlid, helper):
        try:
            if helper:
                deadline = time.monotonic() + 60
                while not published() and time.monotonic() < deadline:
                    time.sleep(0.05)
            results[name] = _run_cron(db, xmlid, helper=helper)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(f"{name}: {e!r}")

    threads = [threading.Thread(target=worker, args=("main", "dunning_ruler.ir_cron_dunning_run", False))]
    threads += [
        threading.Thread(target=worker, args=(f"helper{i}", xmlid, True), name=f"helper{i}")
        for i, xmlid in enumerate(helper_xmlids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    batches = _assert_same_run(db, databases["reference"])
    assert sum(r["partners"] for r in results.values() if r) == CUSTOMERS
    workers = Counter(worker for *_rest, worker in batches)
    assert len(workers) >= 2, f"the batches were shared: {workers}"


def test_a_run_cut_by_its_time_limit_resumes(databases):
    """Out of time after its first batch, the scheduled action leaves the others
    pending; called again, it goes on with the same run."""
    db = databases["resume"]
    first = _run_cron(db, "dunning_ruler.ir_cron_dunning_run", end_time=0.0)
    assert first["partners"] == BATCH_SIZE
    _duplicates, _events, batches = _outcome(db)
    assert [state for _key, state, *_rest in batches].count("done") == 1
    with _env(db) as env:
        cron = env.ref("dunning_ruler.ir_cron_dunning_run")
        progress = env["ir.cron.progress"].search([("cron_id", "=", cron.id)], order="id desc", limit=1)
        assert progress.remaining == CUSTOMERS - BATCH_SIZE, "the cron is called again for the rest"
    second = _run_cron(db, "dunning_ruler.ir_cron_dunning_run")
    assert second["partners"] == CUSTOMERS - BATCH_SIZE
    _assert_same_run(db, databases["reference"])


# ---------------------------------------------------------------- queue jobs
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_job_runner_spreads_a_run_over_workers(databases, tmp_path):
    """dunning_ruler_queue_job with the real job runner: the scheduled action queues
    one job per batch; a multi-process Odoo server (2 HTTP workers and its job runner,
    channel root.dunning:2) runs them."""
    db = databases["jobs"]
    with _env(db) as env:
        if not env["ir.module.module"].search_count(
            [("name", "=", "dunning_ruler_queue_job"), ("state", "=", "installed")]
        ):
            pytest.skip("dunning_ruler_queue_job is not installed")
    # The scheduled action, in a cron context as ir.cron gives it: it publishes the
    # run and queues its jobs.
    summary = _run_cron(db, "dunning_ruler.ir_cron_dunning_run")
    assert summary["batches"] == CUSTOMERS // BATCH_SIZE
    assert summary["partners"] == 0, "the scheduled action dunns nobody itself"
    with _env(db) as env:
        jobs = env["queue.job"].search([("method_name", "=", "_dunning_run_job")])
        assert len(jobs) == CUSTOMERS // BATCH_SIZE
        assert set(jobs.mapped("state")) == {"pending"}
    Registry.delete(db)
    odoo.sql_db.close_db(db)
    port = _free_port()
    log = tmp_path / "odoo.log"
    cmd = [
        sys.executable,
        str(Path(odoo.release.__file__).resolve().parent.parent / "odoo-bin"),
        "-c",
        config["config"],
        "-d",
        db,
        f"--db-filter=^{db}$",
        "--workers=2",
        "--max-cron-threads=0",
        "--load=base,web,queue_job",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        f"--gevent-port={_free_port()}",
        "--log-level=info",
        f"--logfile={log}",
    ]
    env_vars = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS="root:2,root.dunning:2")
    server = subprocess.Popen(cmd, env=env_vars, start_new_session=True)
    t0 = time.monotonic()
    try:
        conn_db = odoo.sql_db.db_connect(db)
        while True:
            assert server.poll() is None, f"the server stopped:\n{log.read_text()[-3000:]}"
            with closing(conn_db.cursor()) as cr:
                cr.execute("SELECT state, count(*) FROM queue_job GROUP BY state")
                jobs = dict(cr.fetchall())
                cr.execute("SELECT state, count(*) FROM dunning_run_batch GROUP BY state")
                batches = dict(cr.fetchall())
            if batches and not batches.get("pending") and set(jobs) == {"done"}:
                break
            assert time.monotonic() - t0 < JOB_TIMEOUT, (
                f"jobs {jobs}, batches {batches}:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        odoo.sql_db.close_db(db)
    elapsed = time.monotonic() - t0
    batches = _assert_same_run(db, databases["reference"])
    with _env(db) as env:
        jobs = env["queue.job"].search([("method_name", "=", "_dunning_run_job")])
        assert len(jobs) == len(batches), "one job per batch"
        assert set(jobs.mapped("channel")) == {"root.dunning"}
        assert len(set(jobs.mapped("identity_key"))) == len(batches)
        assert set(jobs.mapped("state")) == {"done"}
        assert all(result.startswith("dunned: ") for result in jobs.mapped("result"))
    workers = Counter(worker.rsplit(":", 1)[0] for *_rest, worker in batches)
    errors = [line for line in log.read_text().splitlines() if " ERROR " in line or " CRITICAL " in line]
    print(
        f"job runner: {len(batches)} batches in {elapsed:.1f} s (server start included), by {dict(workers)}"
    )
    assert not errors, "\n".join(errors[:20])
    assert len(workers) >= 2, f"the jobs ran in several worker processes: {workers}"
