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
        "4 daily runs after the first: median 3.00 s, worst 6.00 s (2026-06-19, 30 events, 3 messages)"
        in printed
    )
    assert "target under 5 s per day: NOT met" in printed
