from copy import deepcopy

from lxml import etree

from odoo import models


class IrQweb(models.AbstractModel):
    _inherit = "ir.qweb"

    def _compile(self, template):
        # Inline templates (an etree, e.g. a mail template body) are not cached: they
        # are compiled again at every t-call or lazy t-set inside them (under the
        # pseudo reference 'etree._Element', which even fails and formats a
        # traceback), i.e. once per rendered record. A caller rendering many records
        # passes a cache in the context (see dunning.mail.batch._render_bodies):
        # each template compiles once per run and compilation key.
        cache = self.env.context.get("dunning_qweb_compile_cache")
        if cache is None or not isinstance(template, (etree._Element, str, int)):
            return super()._compile(template)
        key = (template, *self._dunning_compile_cache_key(template))
        if key not in cache:
            # Compiling consumes the etree's directives: a copy is compiled, the
            # template stays compilable under another key (another language).
            cache[key] = super()._compile(
                deepcopy(template) if isinstance(template, etree._Element) else template
            )
        return cache[key]

    def _dunning_compile_cache_key(self, template):
        """What the compiled code depends on besides the template, as Odoo's own
        cache of compiled templates keys it (``_generate_code_cached``): the
        context keys of ``_get_template_cache_keys`` (language, branding,
        translation editing, profiling; restricted rendering added by ``mail``);
        for a template given by name, ``ir.ui.view._get_template_minimal_cache_keys``
        (``active_test``, which views a name finds); and ``raise_if_not_found``
        (read when rendering in Odoo 19, not compiling: kept in case that moves)."""
        context = self.env.context
        return (
            tuple(context.get(key) or False for key in self._get_template_cache_keys()),
            isinstance(template, str) and self.env["ir.ui.view"]._get_template_minimal_cache_keys(),
            context.get("raise_if_not_found", True),
        )
