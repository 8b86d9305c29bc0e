from odoo import api, models


class ReportDunningLetter(models.AbstractModel):
    _name = "report.dunning_ruler.report_dunning_letter"
    _description = "Dunning letter"

    @api.model
    def _get_report_values(self, docids, data=None):
        events = self.env["dunning.event"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "dunning.event",
            "docs": events,
            # Read once for the whole batch, not per letter.
            "letter_lines": events._get_letter_lines_map(),
        }
