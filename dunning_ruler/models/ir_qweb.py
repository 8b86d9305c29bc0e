from lxml import etree

from odoo import models


class IrQweb(models.AbstractModel):
    _inherit = "ir.qweb"

    def _compile(self, template):
        # Inline templates (an etree, e.g. a mail template body) are not cached: they
        # are compiled again at every t-call or lazy t-set inside them (under the
        # pseudo reference 'etree._Element', which even fails and formats a
        # traceback), i.e. once per rendered record. A caller rendering many records
        # in one pass passes a cache in the context (see
        # dunning.mail.batch._render_bodies): each template compiles once.
        cache = self.env.context.get("dunning_qweb_compile_cache")
        if cache is None or not isinstance(template, (etree._Element, str, int)):
            return super()._compile(template)
        if template not in cache:
            cache[template] = super()._compile(template)
        return cache[template]
