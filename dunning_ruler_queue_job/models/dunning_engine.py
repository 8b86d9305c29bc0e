from odoo import api, models


class DunningEngine(models.AbstractModel):
    _inherit = "dunning.engine"

    @api.model
    def _dispatch_run(self, batches):
        """One queue job per batch of a scheduled run, on the ``root.dunning`` channel:
        the job runner hands them to the workers of every Odoo server, as many at once
        as the channel's capacity. The scheduled action then ends; it claims none."""
        batches._enqueue_dunning_jobs()
        return True
