"""The benchmark's own accounting (setup/bench.py): the time per category it
prints under "where the time goes", and its targets line."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "setup"))
import bench


class FakeTimer:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_clock_counts_nested_time_once():
    timer = FakeTimer()
    clock = bench._Clock(timer)

    def query():
        timer.now += 3

    def render():
        timer.now += 1
        timed_query()
        timer.now += 2

    def failing_query():
        timer.now += 4
        raise RuntimeError("query failed")

    timed_query = clock.wrap("sql", query)
    timed_render = clock.wrap("qweb", render)
    timed_render()
    # The query's time is not counted in the rendering that issued it.
    assert clock.spent == {"qweb": 3, "sql": 3}
    with pytest.raises(RuntimeError):
        clock.wrap("sql", failing_query)()
    timed_render()
    assert clock.spent == {"qweb": 6, "sql": 10}


def test_time_spent_sees_queries_and_sanitising(odoo_env):
    from odoo import sql_db
    from odoo.orm import fields_textual

    execute, sanitize = sql_db.Cursor.execute, fields_textual.html_sanitize
    body = odoo_env["mail.message"]._fields["body"]
    with bench._time_spent() as spent:
        odoo_env.cr.execute("SELECT pg_sleep(0.05)")
        cleaned = body.convert_to_column("<p>Hi<script>alert(1)</script></p>", odoo_env["mail.message"])
    assert "script" not in cleaned
    assert spent["sql"] >= 0.05
    assert 0 < spent["sanitize"] < spent["sql"]
    # Everything is unwrapped afterwards.
    assert sql_db.Cursor.execute is execute
    assert fields_textual.html_sanitize is sanitize


def test_targets_line(capsys):
    bench._report_targets(100_000, {"preview_s": 0.9, "bare_sql_s": 0.3, "run_s": 108.8})
    assert capsys.readouterr().out == (
        "targets: plan within 5x bare SQL: met (3.0x); 100k in under 60 s: NOT met (108.8 s)\n"
    )
    bench._report_targets(100_000, {"run_s": 59.0})
    assert capsys.readouterr().out == "targets: 100k in under 60 s: met (59.0 s)\n"
    # Below 100k only the planning ratio is judged.
    bench._report_targets(1_000, {"preview_s": 0.06, "bare_sql_s": 0.01, "run_s": 3.3})
    assert capsys.readouterr().out == "targets: plan within 5x bare SQL: NOT met (6.0x)\n"


def test_steady_state_reports_median_and_worst_day(capsys):
    days = [
        {"date": f"2026-06-{16 + i}", "s": s, "events": 10 * i, "messages": i}
        for i, s in enumerate([1.0, 4.0, 2.0, 6.0])
    ]
    bench._report_steady({"steady": days})
    printed = capsys.readouterr().out
    assert (
        "4 daily runs after the first, 1 worker(s) (the scheduled action and its helpers): "
        "median 3.00 s, worst 6.00 s (2026-06-19, 30 events, 3 messages)" in printed
    )
    assert "per day: seconds 1.0/4.0/2.0/6.0" in printed
    days[3].update(batches=6, batch_workers=2)
    bench._report_steady({"steady": days, "steady_workers": 2})
    assert "2 worker(s)" in (printed := capsys.readouterr().out)
    assert "(2026-06-19, 30 events, 3 messages, 6 batches by 2 workers)" in printed
    assert "target under 5 s per day: NOT met" in printed


def test_oca_side_by_side(capsys):
    # --mode oca: the Dunning Ruler run's figures and OCA's, side by side, and issue
    # 16's target (OCA's wall time at least 20x the run's).
    oca = {
        "wall_s": 500.0,
        "cpu_s": 450.0,
        "policy_run_s": 100.0,
        "set_ready_s": 50.0,
        "communications_s": 350.0,
        "queries": 90000,
        "rss_growth_mb": 300.0,
        "time_spent": {"sql": 200.0, "sanitize": 50.0, "qweb": 50.0},
        "partners": 1900,
        "invoices": 8000,
        "lines": 8000,
        "communications": 1920,
        "email_communications": 1900,
        "mails_queued": 1900,
    }
    out = {
        "run_s": 25.0,
        "run_cpu_s": 30.0,
        "queries": 397,
        "summary": {
            "partners": 2000,
            "invoices": 9000,
            "events": 13860,
            "done": 4000,
            "skipped": 9830,
            "failed": 30,
        },
        "emails_done": 3878,
        "emails_without_mail": 0,
        "emails_failed": 30,
        # one email per customer: the email events of a customer share it (issue 16)
        "email_messages": 1910,
        "mails_queued": 1910,
        "oca": oca,
    }
    lines = bench._oca_report_lines(10_000, out)
    assert "= 500.0 s wall" in lines[1]
    assert "where the time goes: PostgreSQL 200.0 s (40%)" in lines[2]
    table = {" ".join(line.split()[:-2]): line.split()[-2:] for line in lines[4:-1]}
    assert table["wall time (s)"] == ["25.0", "500.0"]
    assert table["email events"] == ["3878", "-"]
    assert table["email messages"] == ["1910", "1900"]
    assert table["emails queued"] == ["1910", "1900"]  # per email: emails, not events
    assert table["processor (s)"] == ["30.0", "450.0"]  # this process and its PostgreSQL backends
    assert lines[-1] == (
        "targets: at least 20x faster than OCA credit control: met on wall time (20.0x, Dunning Ruler "
        "with 1 worker); processor time 15.0x; per email queued 13.1 ms vs 263.2 ms (20.1x)"
    )
    # the ruler's side as the scheduled action runs it by default: the action and its helper
    out["run_workers"] = 2
    lines = bench._oca_report_lines(10_000, out)
    assert "(Dunning Ruler: 2 workers, see --workers)" in lines[3]
    assert "met on wall time (20.0x, Dunning Ruler with 2 workers)" in lines[-1]
    out["run_s"] = 26.0
    assert (
        "NOT met on wall time (19.2x, Dunning Ruler with 2 workers)"
        in bench._oca_report_lines(10_000, out)[-1]
    )
    # report() prints it with the rest, RESULT about correctness only.
    assert bench.report(10_000, out)
    assert "OCA account_credit_control on the same 10000 invoices" in capsys.readouterr().out
