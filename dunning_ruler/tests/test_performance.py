import difflib
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.sql_db import Cursor
from odoo.tests import tagged
from odoo.tools import SQL

from ..models.dunning_mail_batch import Post
from ..tools.bulk import bulk_insert, bulk_link, bulk_log
from .common import DunningCommon


@tagged("post_install", "-at_install")
class TestDunningPerformance(DunningCommon):
    """The run scales with batches, not invoices, and its batched email path creates
    exactly what the reference ``message_post`` path creates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")

    def _customers_with_invoices(self, n_customers, per_customer=5, tag="c"):
        """Customers each with ``per_customer`` posted invoices due 10 days apart,
        created in one batch (no per-invoice flow)."""
        partners = self.env["res.partner"].create(
            [
                {
                    "name": f"Perf {tag} {i}",
                    "is_company": True,
                    "email": f"perf.{tag}.{i}@example.com",
                    "lang": "fr_FR" if i % 3 == 0 else "en_US",
                }
                for i in range(n_customers)
            ]
        )
        moves = self.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": self.DUE - timedelta(days=10 * k + 30),
                    "invoice_date_due": self.DUE - timedelta(days=10 * k),
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Subscription", "quantity": 1, "price_unit": 100.0 + k, "tax_ids": []}
                        )
                    ],
                }
                for partner in partners
                for k in range(per_customer)
            ]
        )
        moves.action_post()
        self.env.flush_all()
        # Statistics of the cloned template say these tables are empty: give the
        # planner the real sizes, as autovacuum would on a live database.
        self.cr.execute("ANALYZE account_move, account_move_line, res_partner")
        return partners

    def _run_queries(self, day, partners):
        """Queries of a run: (reads and other statements, INSERT/UPDATE statements, summary)."""
        # Pending recomputations of the set-up are not the run's.
        self.env["dunning.engine"]._candidate_partner_ids(day, self.env.companies.ids)
        queries = []
        execute = Cursor.execute

        def spy(cr, query, params=None, log_exceptions=True):
            queries.append(str(query.code if isinstance(query, SQL) else query).lstrip())
            return execute(cr, query, params, log_exceptions)

        with patch.object(Cursor, "execute", spy):
            summary = self.env["dunning.engine"]._run(as_of=day, partner_ids=partners.ids)
            self.env.flush_all()
        writes = [q for q in queries if q.startswith(("INSERT", "UPDATE"))]
        return [q for q in queries if q not in writes], len(writes), summary

    def test_queries_grow_with_batches_not_invoices(self):
        day = self.DUE + timedelta(days=1)
        warm = self._customers_with_invoices(3, tag="warm")
        small = self._customers_with_invoices(10, tag="small")
        large = self._customers_with_invoices(100, tag="large")
        batched = self._customers_with_invoices(100, tag="batched")
        self.env["dunning.engine"]._run(as_of=day, partner_ids=warm.ids)  # warm the registry caches
        small, small_inserts, small_summary = self._run_queries(day, small)
        large, large_inserts, large_summary = self._run_queries(day, large)
        self.assertEqual(small_summary["invoices"], 50)
        self.assertEqual(large_summary["invoices"], 500)
        self.assertEqual(
            large_summary["done"], 10 * small_summary["done"], "same mix of levels and languages"
        )
        self.assertEqual(
            len(large),
            len(small),
            "one batch of 500 invoices reads as much as one batch of 50:\n"
            + "\n".join(
                difflib.unified_diff([q[:300] for q in small], [q[:300] for q in large], lineterm="", n=0)
            ),
        )
        # The ORM writes rows in INSERT/UPDATE statements of at most 100 rows each.
        self.assertLess(large_inserts, 4 * small_inserts, (small_inserts, large_inserts))
        # Two batches of 50 customers: a second batch's worth of reads, not 50 customers' worth.
        self.env["ir.config_parameter"].set_param("dunning_ruler.batch_size", 50)
        batched, _batched_inserts, batched_summary = self._run_queries(day, batched)
        self.assertEqual(batched_summary["invoices"], 500)
        self.assertLess(len(batched), 3 * len(large))
        self.assertGreater(len(batched), len(large))

    def test_batch_reads_of_customers_invoices_use_an_index(self):
        """A batch reads its customers' invoices by commercial partner, which Odoo does
        not index: without this index each read scans every invoice of the database."""
        self.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'account_move' AND indexname = %s",
            ["account_move_dunning_customer_idx"],
        )
        self.assertIn("(commercial_partner_id)", self.cr.fetchone()[0])
        partners = self._customers_with_invoices(30, per_customer=1, tag="idx")
        self.cr.execute("SET LOCAL enable_seqscan = off")  # what a large table gets
        self.cr.execute(
            SQL(
                "EXPLAIN %s",
                self.env["dunning.engine"]._dunnable_lines_sql(
                    SQL("aml.id"), as_of=self.DUE, partner_ids=partners[:2].ids
                ),
            )
        )
        plan = "\n".join(row[0] for row in self.cr.fetchall())
        self.assertIn("account_move_dunning_customer_idx", plan)

    def _mail_of(self, message):
        return self.env["mail.mail"].search([("mail_message_id", "=", message.id)])

    def test_batched_email_matches_message_post(self):
        partners = self._customers_with_invoices(2, per_customer=1, tag="cmp")
        self._run(self.DUE + timedelta(days=3))
        for partner in partners:
            event = self._events(partner, state="done", channel="email")
            self.assertEqual(len(event), 1)
            fast = event.mail_message_id
            # The reference path, on the same event: what message_post creates.
            ref = self.env["dunning.mail.batch"]._message_post(
                Post(event, partner, partner, fast.subject, event.message)
            )
            for fname in (
                "body",
                "subject",
                "author_id",
                "email_from",
                "reply_to",
                "model",
                "res_id",
                "message_type",
                "subtype_id",
                "partner_ids",
                "email_layout_xmlid",
                "record_company_id",
                "record_alias_domain_id",
                "email_add_signature",
                "record_name",
                "parent_id",
            ):
                self.assertEqual(fast[fname], ref[fname], fname)
            fast_mail, ref_mail = self._mail_of(fast), self._mail_of(ref)
            self.assertEqual(len(fast_mail), 1)
            for fname in (
                "body_html",
                "headers",
                "auto_delete",
                "state",
                "recipient_ids",
                "is_notification",
                "email_from",
                "reply_to",
                "subject",
            ):
                self.assertEqual(fast_mail[fname], ref_mail[fname], fname)
            self.assertEqual(fast_mail.state, "outgoing", "queued, not sent")
            self.assertIn(fast.message_id, ref_mail.references)
            self.assertIn(partner.name, fast_mail.body_html)
            for message in (fast, ref):
                notif = message.notification_ids
                self.assertEqual(notif.res_partner_id, partner)
                self.assertEqual(
                    (notif.notification_type, notif.notification_status, notif.is_read),
                    ("email", "ready", True),
                )
            self.assertEqual(
                partner.message_follower_ids.partner_id,
                ref.author_id,
                "the author follows, as with message_post",
            )

    def test_followers_take_the_reference_path(self):
        """A salesperson following the customer is notified like with message_post."""
        partner = self._customers_with_invoices(1, per_customer=1, tag="fol")
        follower = self.env["res.users"].create(
            {
                "name": "Sales",
                "login": "perf_sales",
                "email": "sales@example.com",
                "notification_type": "email",
                "group_ids": [Command.set(self.env.ref("base.group_user").ids)],
            }
        )
        partner.message_subscribe(partner_ids=follower.partner_id.ids)
        self._run(self.DUE + timedelta(days=3))
        message = self._events(partner, state="done", channel="email").mail_message_id
        self.assertEqual(
            message.notification_ids.res_partner_id,
            partner | follower.partner_id,
            "customer and follower notified",
        )

    def test_bulk_records_match_the_orm(self):
        """The set-based inserts of a run write what the ORM would write."""
        partner = self._customers_with_invoices(1, per_customer=2, tag="bulk")
        moves = self.env["account.move"].search([("partner_id", "=", partner.id)])
        # Chatter notes: same records as _message_log_batch, text escaped.
        text = "Dunning: “Final” sent to A & B <script>x</script>."
        fast = bulk_log(moves, dict.fromkeys(moves.ids, text))
        ref = moves._message_log_batch(bodies=dict.fromkeys(moves.ids, text))
        self.assertEqual(len(fast), 2)
        for fast_msg, ref_msg in zip(fast.sorted("res_id"), ref.sorted("res_id"), strict=True):
            for fname in (
                "body",
                "model",
                "res_id",
                "message_type",
                "is_internal",
                "subtype_id",
                "author_id",
                "email_from",
                "reply_to",
                "email_add_signature",
                "record_company_id",
                "record_alias_domain_id",
            ):
                self.assertEqual(fast_msg[fname], ref_msg[fname], fname)
        self.assertNotIn("<script>", str(fast[0].body))
        self.assertIn(fast[0], moves[0].message_ids, "the cached chatter of the invoice is refreshed")
        # Events: defaults, stored computed name, inverse one2many kept consistent.
        level = self.ruler.level_ids[0]
        self.assertFalse(partner.dunning_event_ids)  # cached before the insert
        row = {
            "partner_id": partner.id,
            "company_id": self.company.id,
            "level_id": level.id,
            "date": self.DUE,
            "currency_id": self.currency.id,
            "channel": "none",
        }
        events = bulk_insert(self.env["dunning.event"], [row])
        self.assertEqual(events.state, "done", "default applied")
        self.assertEqual(events.origin, "run", "default applied")
        self.assertEqual(events.user_id, self.env.user, "default applied")
        self.assertEqual(events.name, f"{partner.display_name} / {level.name} / {self.DUE}")
        self.assertIn(events, partner.dunning_event_ids)
        # A computed field given keeps the value given, as with create().
        named = bulk_insert(self.env["dunning.event"], [{**row, "name": "Given name"}])
        self.env.flush_all()  # what would be recomputed is, now
        named.invalidate_recordset()
        self.assertEqual(named.name, "Given name")
        with self.assertRaises(ValueError):
            bulk_insert(self.env["dunning.event"], [{"tone": "firm"}])

    def test_bulk_links_of_created_records_cached_as_read(self):
        """Links of just inserted events are cached as the field would read them:
        same targets, same order, no query to read them back."""
        partner = self._customers_with_invoices(1, per_customer=3, tag="link")
        moves = self.env["account.move"].search([("partner_id", "=", partner.id)], order="id")
        row = {
            "partner_id": partner.id,
            "company_id": self.company.id,
            "level_id": self.ruler.level_ids[0].id,
            "date": self.DUE,
            "currency_id": self.currency.id,
            "channel": "none",
        }
        Event = self.env["dunning.event"]
        events = bulk_insert(Event, [row, row, row])
        # ids in an order the invoices' own order (date desc) is not; the third event gets none
        pairs = [(events[0].id, moves[2].id), (events[0].id, moves[0].id), (events[1].id, moves[1].id)]
        pairs.append(pairs[0])  # given twice, linked once
        bulk_link(Event, "invoice_ids", pairs, created=events)
        with self.assertQueryCount(0):
            cached = [event.invoice_ids.ids for event in events]
        events.invalidate_recordset(["invoice_ids"])
        self.assertEqual(cached, [event.invoice_ids.ids for event in events], "as read from the database")
        self.assertEqual(cached[0], (moves[0] | moves[2]).sorted().ids)
        self.assertEqual(cached[2], [])
        self.assertEqual(moves[0].dunning_event_ids & events, events[0], "inverse refreshed")


@tagged("post_install", "-at_install")
class TestDunningHelperWorker(DunningCommon):
    """A large scheduled run publishes its customers as batches and starts helper
    workers, which only ever claim the batches of a run under way. (Several workers
    at once, with real commits: tests/test_scale_out.py.)"""

    def _helper_triggers(self):
        helper = self.env.ref("dunning_ruler.ir_cron_dunning_run_helper")
        helpers = self.env["ir.cron"].with_context(active_test=False).search([("code", "=", helper.code)])
        return self.env["ir.cron.trigger"].search([("cron_id", "in", helpers.ids)])

    def test_trigger_follows_the_setting(self):
        before = self._helper_triggers()
        self.env["dunning.engine"]._trigger_helper()
        self.assertEqual(len(self._helper_triggers() - before), 1, "2 workers by default")
        self.env["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", "1")
        before = self._helper_triggers()
        self.env["dunning.engine"]._trigger_helper()
        self.assertFalse(self._helper_triggers() - before, "one worker: no helper")

    def test_more_workers_more_helper_actions(self):
        """N workers: the scheduled action and N - 1 helper scheduled actions, each run
        by its own cron worker (a scheduled action runs on one worker at a time)."""
        Engine = self.env["dunning.engine"]
        self.env["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", "4")
        before = self._helper_triggers()
        helpers = Engine._trigger_helper()
        self.assertEqual(len(helpers), 3)
        self.assertEqual(helpers[0], self.env.ref("dunning_ruler.ir_cron_dunning_run_helper"))
        self.assertEqual(set(helpers.mapped("code")), {"model._cron_run_dunning_helper()"})
        self.assertEqual((self._helper_triggers() - before).cron_id, helpers)
        # the copies are reused, and no more helpers start than there are batches for them
        self.assertEqual(Engine._trigger_helper(), helpers)
        self.assertEqual(Engine._trigger_helper(needed=2), helpers[:2])

    def test_batches_shared_evenly_between_workers(self):
        """A run's customers are cut into batches of even sizes, as many as a multiple
        of the workers while each keeps MIN_SHARED_BATCH customers: no worker is left
        dunning the last batch alone while the others wait."""
        Engine = self.env["dunning.engine"]
        customers = list(range(1, 3201))

        def sizes(count, batch_size=500):
            chunks = Engine._split_batches(customers[:count], batch_size)
            self.assertEqual([c for chunk in chunks for c in chunk], customers[:count], "each once, in order")
            return [len(chunk) for chunk in chunks]

        # 2 workers (the default): 7 batches of up to 500 become 8 of 400
        self.assertEqual(sizes(3200), [400] * 8)
        self.assertEqual(sizes(2876), [480, 480, 479, 479, 479, 479])
        self.assertEqual(sizes(400), [200, 200], "a small run is shared too")
        self.assertEqual(sizes(150), [150], "not into batches smaller than MIN_SHARED_BATCH")
        self.assertEqual(sizes(5, batch_size=2), [2, 2, 1], "batch size below MIN_SHARED_BATCH: kept")
        self.assertEqual(sizes(0), [])
        self.env["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", "3")
        self.assertEqual(sizes(3200), [356] * 5 + [355] * 4)
        self.env["ir.config_parameter"].set_param("dunning_ruler.parallel_workers", "1")
        self.assertEqual(sizes(3200), [458, 457, 457, 457, 457, 457, 457], "one worker: even sizes only")

    def test_helper_only_helps_a_run_in_progress(self):
        customers = [self._create_customer(f"Helper {i}") for i in range(3)]
        for customer in customers:
            self._invoice(customer, 300.0)
        Ruler = self.env["dunning.ruler"]
        Engine = self.env["dunning.engine"]
        day = self.DUE + timedelta(days=3)
        # The scheduled actions run for today: a fixed one.
        with freeze_time(day):
            self.assertIsNone(Ruler._cron_run_dunning_helper())
            self.assertFalse(self._events(), "no run in progress: the helper does nothing")
            # What the scheduled action does first: publish the run's batches.
            batches = Engine._publish_run(day, self.env["res.company"].search([]).ids, batch_size=1)
            mine = batches.filtered(lambda b: b.partner_ids[0] in [c.id for c in customers])
            self.assertEqual(len(mine), 3, "one batch per customer")
            self.assertEqual(set(batches.mapped("state")), {"pending"})
            summary = Ruler._cron_run_dunning_helper()
            self.assertEqual(summary["partners"], len(batches))
            self.assertEqual(set(batches.mapped("state")), {"done"})
            self.assertTrue(all(b.worker and b.date_done for b in batches))
            self.assertEqual(sum(b.summary["events"] for b in batches), summary["events"])
            for customer in customers:
                self.assertTrue(self._events(customer, state="done"))
            # What the main worker then finds: nothing left for these customers.
            self.assertIsNone(Ruler._cron_run_dunning_helper(), "no batch left")
            self.assertEqual(Ruler.run_dunning()["events"], 0)

    def test_a_published_run_is_resumed_not_published_again(self):
        """A scheduled action called again (after its time limit) or a second one
        started meanwhile joins the run under way; a run of another day cancels what is
        left of the previous one."""
        self._invoice(self.customer, 100.0)
        Engine = self.env["dunning.engine"]
        day = self.DUE + timedelta(days=3)
        companies = self.env["res.company"].search([]).ids
        batches = Engine._publish_run(day, companies, batch_size=1)
        self.assertTrue(batches)
        self.assertEqual(len(set(batches.mapped("run_key"))), 1)
        self.assertEqual(Engine._publish_run(day, list(reversed(companies)), batch_size=1), batches)
        next_day = Engine._publish_run(day + timedelta(days=1), companies, batch_size=1)
        self.assertFalse(next_day & batches)
        self.assertEqual(set(batches.mapped("state")), {"cancelled"})

    def test_claims_follow_the_batches(self):
        """Batches are claimed in order, each dunned and marked done once; a worker
        given the batches of its run claims only those."""
        customers = [self._create_customer(f"Claim {i}") for i in range(3)]
        for customer in customers:
            self._invoice(customer, 100.0)
        day = self.DUE + timedelta(days=3)
        Engine = self.env["dunning.engine"]
        batches = Engine._publish_run(day, self.env.companies.ids, [c.id for c in customers], batch_size=1)
        seen = []
        EngineClass = type(Engine)
        run_batch = EngineClass._run_batch

        def spy(engine, partner_ids, as_of, company_ids):
            seen.append(list(partner_ids))
            return run_batch(engine, partner_ids, as_of, company_ids)

        with patch.object(EngineClass, "_run_batch", spy):
            summary = Engine._new_summary(day)
            Engine._work_batches(summary, batches[:2].ids)
            self.assertEqual(seen, [[customers[0].id], [customers[1].id]])
            self.assertEqual(batches.mapped("state"), ["done", "done", "pending"])
            self.assertEqual(summary["partners"], 2)
            Engine._work_batches(summary, batches.ids)
        self.assertEqual(seen[2:], [[customers[2].id]], "each batch once")
        self.assertEqual(summary["partners"], 3)
        self.assertIsNone(Engine._claim_batch(batches.ids))
