from odoo import api, models

from ..tools.security import check_technical_fields


class DunningTechnicalMixin(models.AbstractModel):
    """Records some of whose fields (``_TECHNICAL_FIELDS``) only dunning's own code
    sets: creating or writing them by hand (RPC included) is refused below system
    administrator (:func:`..tools.security.check_technical_fields`)."""

    _name = "dunning.technical.mixin"
    _description = "Fields Kept by Dunning"

    #: names of the fields set by dunning's own code only
    _TECHNICAL_FIELDS = ()

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            check_technical_fields(self, vals, create=True)
        return super().create(vals_list)

    def write(self, vals):
        check_technical_fields(self, vals)
        return super().write(vals)
