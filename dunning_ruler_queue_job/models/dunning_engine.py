from odoo import api, models
from odoo.tools import str2bool


class DunningEngine(models.AbstractModel):
    _inherit = "dunning.engine"

    @api.model
    def _dispatch_run(self, batches):
        """One queue job per batch of a scheduled run, on the ``root.dunning`` channel:
        the job runner hands them to the workers of every Odoo server, as many at once
        as the channel's capacity. The scheduled action then ends; it claims none.

        System parameter ``dunning_ruler_queue_job.enabled`` set to ``False``: the
        scheduled action and its helper scheduled actions share the run, as without
        this module (e.g. while no job runner runs)."""
        enabled = self.env["ir.config_parameter"].sudo().get_param("dunning_ruler_queue_job.enabled", "True")
        if not str2bool(enabled, default=True):
            return super()._dispatch_run(batches)
        batches._enqueue_dunning_jobs()
        return True
