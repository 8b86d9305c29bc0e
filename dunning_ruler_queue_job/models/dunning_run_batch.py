from odoo import models


class DunningRunBatch(models.Model):
    _inherit = "dunning.run.batch"

    def _dunning_job_identity(self):
        """The identity key of a batch's job: queue_job enqueues no second job for a
        batch while one waits or is enqueued (a run resumed or dispatched again)."""
        self.ensure_one()
        return f"dunning.run.batch({self.id})"

    def _enqueue_dunning_jobs(self):
        """A job per pending batch (``_dunning_run_job``), channel and retries as its
        job function says (``root.dunning``)."""
        pending = self.filtered(lambda batch: batch.state == "pending")
        total = len(pending)
        for number, batch in enumerate(pending, 1):
            batch.with_delay(
                identity_key=batch._dunning_job_identity(),
                description=self.env._(
                    "Dunning run of %(date)s: batch %(number)s of %(total)s (%(count)s customers)",
                    date=batch.as_of,
                    number=number,
                    total=total,
                    count=batch.partner_count,
                ),
            )._dunning_run_job()
        return pending

    def _dunning_run_job(self):
        """The job: dunn this batch if it is still pending and no other worker holds it
        (``dunning.engine._claim_batch``), in the job's transaction. A serialization
        conflict fails the job with a retryable error: queue_job runs it again on a
        fresh snapshot."""
        self.ensure_one()
        engine = self.env["dunning.engine"].sudo().with_context(dunning_render_cache={})
        claimed = engine._claim_batch(self.ids)
        if claimed is None:
            return "nothing to do: the batch is done, cancelled or in another worker's hands"
        stats = engine._work_claimed_batch(claimed)
        return "dunned: " + ", ".join(f"{key} {value}" for key, value in sorted(stats.items()))
