"""The outbox against real concurrent transactions, on committed data.

Each test commits its records through its own cursors (``registry.cursor()``): the
outbox runs in one (a thread, as the scheduled action runs it: committing every step),
the payment in another, while the simulator holds the platform's answer. The last test
serves the database with a real ``odoo-bin`` (its cron thread) and measures the time
from a payment's commit to the platform unblocked. Everything committed is removed
afterwards."""

import logging
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import odoo.release
from odoo import SUPERUSER_ID, Command, api, fields
from odoo.modules.registry import Registry
from odoo.orm.environments import Transaction
from odoo.tests import tagged
from odoo.tests.common import BaseCase, get_db_name
from odoo.tools import config

from .simulator import TrackingSimulator
from .simulator.faults import scripted

_logger = logging.getLogger(__name__)

REF = 8801
RESTRICT_FLAGS = ("limitCommands", "readonly", "deviceReadonly", "disableReports")


@tagged("post_install", "-at_install")
class TestOutboxConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        cls.sim = TrackingSimulator("admin@conc.test", "admin-pass", token="conc-token")
        cls.sim.start(0)
        cls.addClassCleanup(cls.sim.stop)
        cls.faults = scripted(cls.sim)
        tag = uuid.uuid4().hex[:8]
        with cls.registry.cursor() as cr:
            env = cls._env(cr)
            company = env.ref("base.main_company")
            cls.company_id = company.id
            cls.platform_id = (
                env["dunning.access.platform"]
                .create(
                    {
                        "name": f"Concurrency {tag}",
                        "kind": "traccar",
                        "base_url": cls.sim.url,
                        "auth_type": "token",
                        "token": "conc-token",
                        "timeout": 20,
                        "company_id": company.id,
                    }
                )
                .id
            )
            cls.partner_id = (
                env["res.partner"]
                .create({"name": f"Concurrent Fleet {tag}", "is_company": True, "email": f"{tag}@conc.test"})
                .id
            )
            cls.binding_id = (
                env["dunning.access.binding"]
                .create(
                    {"partner_id": cls.partner_id, "platform_id": cls.platform_id, "external_ref": str(REF)}
                )
                .id
            )
            cls.level_restrict = env.ref("dunning_ruler.dunning_level_standard_restriction").id
        cls.addClassCleanup(cls._remove_committed)

    def setUp(self):
        super().setUp()
        self.sim.add_user("fleet@conc.test", user_id=REF, name="Fleet", readonly=True, userLimit=2)
        self.original = dict(self.sim.users[REF])
        self.sim.requests.clear()
        self.addCleanup(self._reset_between_tests)

    @classmethod
    def _env(cls, cr):
        if cr.transaction is None:
            # Not Registry(dbname): the test runner holds the registries' lock while
            # tests run, and this may be another thread.
            cr.transaction = Transaction(cls.registry)
        env = api.Environment(cr, SUPERUSER_ID, {})
        return env(context={"allowed_company_ids": env.ref("base.main_company").ids})

    # ------------------------------------------------------------------ committed data
    def _reset_between_tests(self):
        self.faults.reset()
        self.sim.reset_faults()
        self.sim.requests.clear()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self._remove_accounting(env)
            cr.execute("DELETE FROM dunning_access_call WHERE binding_id = %s", [self.binding_id])
            cr.execute("DELETE FROM dunning_access_resync WHERE partner_id = %s", [self.partner_id])
            env["dunning.access.binding"].browse(self.binding_id).write(
                {"desired_state": "active", "confirmed_state": "active", "snapshot": False}
            )

    @classmethod
    def _remove_accounting(cls, env):
        moves = env["account.move"].search([("partner_id", "=", cls.partner_id)])
        moves.line_ids.remove_move_reconcile()
        payments = env["account.payment"].search([("partner_id", "=", cls.partner_id)])
        payments.filtered(lambda p: p.state != "draft").action_draft()
        payments.unlink()
        moves = moves.exists()
        moves.filtered(lambda m: m.state == "posted").button_draft()
        moves.with_context(force_delete=True).unlink()

    @classmethod
    def _remove_committed(cls):
        with cls.registry.cursor() as cr:
            env = cls._env(cr)
            cls._remove_accounting(env)
            cr.execute("DELETE FROM dunning_access_call WHERE platform_id = %s", [cls.platform_id])
            cr.execute("DELETE FROM dunning_access_resync WHERE partner_id = %s", [cls.partner_id])
            cr.execute("DELETE FROM dunning_access_binding WHERE platform_id = %s", [cls.platform_id])
            cr.execute("DELETE FROM dunning_access_platform WHERE id = %s", [cls.platform_id])
            env["res.partner"].browse(cls.partner_id).active = False

    def _invoice(self, env, amount, level=None):
        due = fields.Date.context_today(env.user) - timedelta(days=40)
        invoice = env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partner_id,
                "invoice_date": due,
                "invoice_date_due": due,
                "invoice_line_ids": [
                    Command.create({"name": "Tracking", "quantity": 1, "price_unit": amount, "tax_ids": []})
                ],
            }
        )
        invoice.action_post()
        if level:
            invoice.sudo().dunning_level_id = level
        return invoice

    def _pay(self, env, invoice):
        return (
            env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": invoice.amount_residual})
            ._create_payments()
        )

    def _binding(self, env):
        return env["dunning.access.binding"].browse(self.binding_id)

    def _calls(self, env):
        return env["dunning.access.call"].search([("binding_id", "=", self.binding_id)], order="id")

    def _cron_outbox(self, cr, seconds):
        """One run of the outbox's scheduled action in ``cr``, its time up in ``seconds``:
        its summary and the cron's progress."""
        env = self._env(cr)
        cron = env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox")
        cron, progress = cron._add_progress()
        cr.commit()  # pylint: disable=invalid-commit  # a committed fixture, by design
        Platform = env["dunning.access.platform"].with_context(
            cron.env.context, cron_id=cron.id, cron_end_time=time.monotonic() + seconds
        )
        return Platform._cron_process_outbox(), progress

    def _outbox_in_thread(self):
        """The outbox as the scheduled action runs it, in its own cursor and thread."""
        outcome = {}

        def run():
            try:
                with self.registry.cursor() as cr:
                    outcome["summary"], _progress = self._cron_outbox(cr, 60)
            except Exception as e:
                _logger.exception("outbox thread failed")
                outcome["error"] = e

        thread = threading.Thread(target=run, name="outbox-test")
        thread.start()
        return thread, outcome

    def _process_now(self):
        with self.registry.cursor() as cr:
            return self._env(cr)["dunning.access.platform"].process_outbox()

    def _join(self, thread, outcome):
        thread.join(90)
        self.assertFalse(thread.is_alive(), "the outbox pass ended")
        self.assertNotIn("error", outcome)
        return outcome["summary"]

    # ------------------------------------------------------------------ tests
    def test_payment_while_block_in_flight_ends_unblocked(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            invoice = self._invoice(env, 900.0)
            self._binding(env)._set_desired("blocked", "Level Block reached")
        arrived, release = self.faults.hold("PUT")
        thread, outcome = self._outbox_in_thread()
        try:
            self.assertTrue(arrived.wait(30), "the block's PUT reached the platform")
            with self.registry.cursor() as cr:
                env = self._env(cr)
                start = time.monotonic()
                self._pay(env, env["account.move"].browse(invoice.id))
                cr.commit()  # pylint: disable=invalid-commit  # a committed fixture, by design
                self.assertLess(time.monotonic() - start, 15, "the payment did not wait for the platform")
                calls = self._calls(env)
                self.assertEqual(
                    [(c.action, c.state) for c in calls], [("block", "sending"), ("unblock", "pending")]
                )
        finally:
            release.set()
        summary = self._join(thread, outcome)
        self.assertEqual(summary["sent"], 2, summary)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            binding = self._binding(env)
            self.assertEqual(
                (binding.desired_state, binding.confirmed_state, binding.access_state), ("active",) * 3
            )
            self.assertEqual(env["res.partner"].browse(self.partner_id).access_state, "active")
            self.assertEqual([c.state for c in self._calls(env)], ["done", "done"])
        self.assertEqual(self.sim.users[REF], self.original, "unblocked, as it was before")

    def test_unreconcile_while_unblock_in_flight_ends_restricted(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            invoice = self._invoice(env, 700.0, level=env["dunning.level"].browse(self.level_restrict))
            binding = self._binding(env)
            binding._sync(why="Test")
            self.assertEqual(binding.desired_state, "restricted")
        self._process_now()
        self.assertTrue(self.sim.users[REF]["limitCommands"])
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self._pay(env, env["account.move"].browse(invoice.id))
            self.assertEqual(self._calls(env)[-1].action, "unblock")
        arrived, release = self.faults.hold("PUT")
        thread, outcome = self._outbox_in_thread()
        try:
            self.assertTrue(arrived.wait(30), "the unblock's PUT reached the platform")
            with self.registry.cursor() as cr:
                env = self._env(cr)
                invoice = env["account.move"].browse(invoice.id)
                invoice.line_ids.remove_move_reconcile()
                cr.commit()  # pylint: disable=invalid-commit  # a committed fixture, by design
                self.assertEqual(
                    [(c.action, c.state) for c in self._calls(env)[-2:]],
                    [("unblock", "sending"), ("restrict", "pending")],
                )
        finally:
            release.set()
        self._join(thread, outcome)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            binding = self._binding(env)
            self.assertEqual(
                (binding.desired_state, binding.confirmed_state, binding.access_state), ("restricted",) * 3
            )
        user = self.sim.users[REF]
        self.assertTrue(all(user[flag] for flag in RESTRICT_FLAGS))
        self.assertFalse(user["disabled"])

    def test_payment_does_not_wait_on_connector_locks(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            invoice = self._invoice(env, 900.0)
            self._binding(env)._set_desired("blocked", "Level Block reached")
        with self.registry.cursor() as locker:
            # Another transaction (an outbox, a person) holds the account's rows.
            locker.execute(
                "SELECT id FROM dunning_access_binding WHERE id = %s FOR UPDATE", [self.binding_id]
            )
            locker.execute(
                "SELECT id FROM dunning_access_call WHERE binding_id = %s FOR UPDATE", [self.binding_id]
            )
            with self.registry.cursor() as cr:
                env = self._env(cr)
                cr.execute("SET LOCAL lock_timeout = '20s'")  # a wait fails the test, never hangs it
                start = time.monotonic()
                self._pay(env, env["account.move"].browse(invoice.id))
                cr.commit()  # pylint: disable=invalid-commit  # a committed fixture, by design
                elapsed = time.monotonic() - start
            self.assertLess(elapsed, 10, "completed at once, without waiting for the locks")
            locker.rollback()
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self.assertEqual(
                env["dunning.access.resync"].search([("partner_id", "=", self.partner_id)]).reason,
                "Payment received",
                "the decision is left to the outbox",
            )
            self.assertEqual(self._calls(env).state, "pending", "the block waits, untouched")
        # The outbox takes the decision: the block is superseded before it is ever sent.
        thread, outcome = self._outbox_in_thread()
        self._join(thread, outcome)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self.assertEqual(self._calls(env).state, "superseded")
            self.assertEqual(self._binding(env).access_state, "active")
            self.assertFalse(env["dunning.access.resync"].search([("partner_id", "=", self.partner_id)]))
        self.assertFalse([r for r in self.sim.requests if r[0] == "PUT"])

    def test_outbox_stops_when_the_cron_time_is_up(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            platform = env["dunning.access.platform"].browse(self.platform_id)
            platform.max_concurrency = 1
            partners = env["res.partner"].create(
                [{"name": f"Budget {i}", "is_company": True} for i in range(8)]
            )
            for i, partner in enumerate(partners):
                self.sim.add_user(f"b{i}@conc.test", user_id=REF + 100 + i)
                env["dunning.access.binding"].create(
                    {"partner_id": partner.id, "platform_id": platform.id, "external_ref": str(REF + 100 + i)}
                )._set_desired("restricted", "Budget")
        try:
            with self.registry.cursor() as cr:
                # The cron's time is already up: one round (a fair share: 4 waves of 1), then stop.
                summary, progress = self._cron_outbox(cr, 0)
                self.assertEqual(summary["sent"], 4, summary)
                self.assertEqual(progress.done, 4)
                self.assertEqual(progress.remaining, 4, "the cron runs again at once for the rest")
        finally:
            with self.registry.cursor() as cr:
                env = self._env(cr)
                env["dunning.access.platform"].browse(self.platform_id).max_concurrency = 4
                bindings = env["dunning.access.binding"].search(
                    [("platform_id", "=", self.platform_id), ("id", "!=", self.binding_id)]
                )
                cr.execute("DELETE FROM dunning_access_call WHERE binding_id = ANY(%s)", [bindings.ids])
                partners = bindings.partner_id
                bindings.unlink()
                partners.active = False

    def test_served_cron_unblocks_after_payment(self):
        """A served Odoo (odoo-bin, its cron thread) on this database: the payment's
        commit triggers the outbox cron, which unblocks the customer on the platform."""
        with self.registry.cursor() as cr:
            env = self._env(cr)
            invoice = self._invoice(env, 900.0)
            self._binding(env)._set_desired("blocked", "Level Block reached")
        self._process_now()
        self.assertTrue(self.sim.users[REF]["disabled"])
        with self.registry.cursor() as cr:
            cr.execute(
                "UPDATE ir_cron SET active = false WHERE active AND id != %s RETURNING id",
                [self._env(cr).ref("dunning_ruler_access.ir_cron_dunning_access_outbox").id],
            )
            paused = [row[0] for row in cr.fetchall()]

        def resume_crons():
            with self.registry.cursor() as cr:
                cr.execute("UPDATE ir_cron SET active = true WHERE id = ANY(%s)", [paused])

        self.addCleanup(resume_crons)
        server = self._serve()
        self._wait_for_cron(server)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self._pay(env, env["account.move"].browse(invoice.id))
            start = time.monotonic()
            cr.commit()  # pylint: disable=invalid-commit  # a committed fixture, by design
        latency = None
        while time.monotonic() - start < 60:
            if not self.sim.users[REF]["disabled"]:
                latency = time.monotonic() - start
                break
            time.sleep(0.05)
        self.assertIsNotNone(latency, f"not unblocked within 60 s; server log: {server.log_tail()}")
        _logger.info("payment committed -> platform unblocked by the served cron in %.2f s", latency)
        self.assertLess(latency, 10)
        self.assertEqual(self.sim.users[REF], self.original)

    # ------------------------------------------------------------------ a served Odoo
    def _serve(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = tempfile.NamedTemporaryFile(prefix="served-odoo-", suffix=".log", delete=False)  # noqa: SIM115
        self.addCleanup(Path(log.name).unlink, missing_ok=True)
        odoo_bin = Path(odoo.release.__file__).resolve().parent.parent / "odoo-bin"
        command = [
            sys.executable,
            str(odoo_bin),
            "-d",
            get_db_name(),
            "--db-filter",
            f"^{get_db_name()}$",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--max-cron-threads",
            "1",
            "--log-level",
            "info",
        ]
        if config["config"]:
            command[2:2] = ["-c", config["config"]]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        def stop():
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

        self.addCleanup(stop)
        process.log_tail = lambda: Path(log.name).read_text(errors="replace")[-3000:]
        return process

    def _wait_for_cron(self, server):
        """Until the served cron thread has run the outbox once (it listens by then)."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            self.assertIsNone(server.poll(), f"odoo-bin stopped: {server.log_tail()}")
            with self.registry.cursor() as cr:
                env = self._env(cr)
                cron = env.ref("dunning_ruler_access.ir_cron_dunning_access_outbox")
                cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_progress WHERE cron_id = %s", [cron.id])
                before = cr.fetchone()[0]
                cron._trigger()
            for _i in range(20):
                time.sleep(0.1)
                with self.registry.cursor() as cr:
                    cr.execute(
                        "SELECT 1 FROM ir_cron_progress WHERE cron_id = %s AND id > %s", [cron.id, before]
                    )
                    if cr.fetchone():
                        return
        self.fail(f"the served cron never ran: {server.log_tail()}")
