from datetime import timedelta

from odoo import api, fields, models


class DunningRunBatch(models.Model):
    """A batch of customers of a scheduled dunning run, for any worker to claim.

    A scheduled run writes its customers here, in batches, and commits them
    (``dunning.engine._publish_run``). Every worker then takes the next pending batch
    with ``SELECT … FOR UPDATE SKIP LOCKED`` in the transaction that dunns it and marks
    it done in that same transaction (``dunning.engine._claim_batch``): the scheduled
    action, its helpers (``dunning_ruler.parallel_workers``), the cron workers of other
    Odoo servers on the same database, or one queue job per batch
    (``dunning_ruler_queue_job``). A batch is held by one worker at a time and done
    once; a worker that dies rolls back and leaves its batch pending for another.
    """

    _name = "dunning.run.batch"
    _description = "Dunning Run Batch"
    _order = "id"

    run_key = fields.Char(string="Run", required=True, index=True, readonly=True)
    as_of = fields.Date(string="Run Date", required=True, readonly=True)
    company_ids = fields.Json(string="Company IDs", readonly=True)
    partner_ids = fields.Json(string="Customer IDs", readonly=True)
    partner_count = fields.Integer(string="Customers", readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Done"), ("cancelled", "Cancelled")],
        required=True,
        default="pending",
        readonly=True,
    )
    worker = fields.Char(readonly=True, help="The process that dunned the batch (host:pid:thread).")
    date_done = fields.Datetime(string="Done On", readonly=True)
    summary = fields.Json(readonly=True)

    # what the workers look for: the pending batches, in order
    _pending_idx = models.Index("(id) WHERE state = 'pending'")

    @api.autovacuum
    def _gc_finished_batches(self):
        """Finished batches are kept a month (which worker dunned whom, and when)."""
        limit = fields.Datetime.now() - timedelta(days=30)
        self.sudo().search([("state", "!=", "pending"), ("write_date", "<", limit)]).unlink()
