from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.dunning_ruler.tests.common import DunningCommon
from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestDunningQueueJob(DunningCommon):
    """A scheduled run's batches become one queue job each, on the dunning channel,
    never twice for a batch; running the jobs performs the run. (With the real job
    runner and several workers: tests/test_scale_out.py.)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = [cls._create_customer(f"Queued {i}") for i in range(5)]
        for customer in cls.customers:
            cls._invoice(customer, 120.0)
        cls.day = cls.DUE + timedelta(days=3)

    def _publish(self, batch_size=2):
        Engine = self.env["dunning.engine"]
        return Engine._publish_run(
            self.day, self.env.companies.ids, [c.id for c in self.customers], batch_size
        )

    def test_one_job_per_batch_on_the_dunning_channel(self):
        batches = self._publish()
        self.assertEqual(batches.mapped("partner_count"), [2, 2, 1])
        with trap_jobs() as trap:
            self.assertTrue(self.env["dunning.engine"]._dispatch_run(batches), "the jobs do every batch")
            trap.assert_jobs_count(3)
            for number, batch in enumerate(batches, 1):
                trap.assert_jobs_count(1, only=batch._dunning_run_job)
                trap.assert_enqueued_job(
                    batch._dunning_run_job,
                    args=(),
                    kwargs={},
                    properties={
                        "identity_key": f"dunning.run.batch({batch.id})",
                        "description": f"Dunning run of {self.day}: batch {number} of 3 "
                        f"({batch.partner_count} customers)",
                    },
                )
            jobs = trap.enqueued_jobs
            self.assertEqual({job.channel for job in jobs}, {"root.dunning"})
            self.assertEqual([job.recordset for job in jobs], list(batches))
            self.assertEqual({str(job.job_config.retry_pattern) for job in jobs}, {"{1: 60, 3: 300}"})
            # dispatched again (a run resumed, a second scheduled action): no second job
            self.env["dunning.engine"]._dispatch_run(batches)
            self.assertEqual(len(trap.enqueued_jobs), 3)
            self.assertFalse(self._events(self.customers[0]))
            trap.perform_enqueued_jobs()
        self.assertEqual(set(batches.mapped("state")), {"done"})
        for customer in self.customers:
            self.assertEqual(self._events(customer, state="done").level_id.name, "Overdue")
        self.assertEqual(sum(b.summary["partners"] for b in batches), 5)
        # a job for a batch already done does nothing; a rerun finds nobody to dunn
        self.assertIn("nothing to do", batches[0]._dunning_run_job())
        self.assertEqual(self._run(self.day)["events"], 0)

    def test_jobs_in_the_queue_and_their_identity(self):
        """Stored jobs (not trapped): the identity key keeps a batch from being queued
        twice while its job waits."""
        batches = self._publish(batch_size=3)
        Job = self.env["queue.job"].sudo()
        before = Job.search([])
        self.env["dunning.engine"]._dispatch_run(batches)
        self.env["dunning.engine"]._dispatch_run(batches)
        jobs = Job.search([]) - before
        self.assertEqual(len(jobs), 2)
        self.assertEqual(set(jobs.mapped("channel")), {"root.dunning"})
        self.assertEqual(set(jobs.mapped("state")), {"pending"})
        self.assertEqual(
            sorted(jobs.mapped("identity_key")), sorted(b._dunning_job_identity() for b in batches)
        )
        self.assertEqual(set(jobs.mapped("method_name")), {"_dunning_run_job"})

    def test_a_batch_claimed_elsewhere_is_left_alone(self):
        """The job dunns only a batch it can claim: one done or cancelled meanwhile is
        left as it is."""
        batches = self._publish(batch_size=5)
        batches.state = "cancelled"
        self.assertIn("nothing to do", batches._dunning_run_job())
        self.assertFalse(self._events(self.customers[0]))

    def test_switched_off_the_cron_workers_share_the_run(self):
        batches = self._publish()
        self.env["ir.config_parameter"].sudo().set_param("dunning_ruler_queue_job.enabled", "False")
        helper = self.env.ref("dunning_ruler.ir_cron_dunning_run_helper")
        with trap_jobs() as trap:
            self.assertFalse(self.env["dunning.engine"]._dispatch_run(batches), "the scheduled action works")
            trap.assert_jobs_count(0)
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", helper.id)]), "a helper started")
