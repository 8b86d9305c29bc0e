from odoo import api, models

# Users the simulator seeds with ``--seed demo`` (tests/simulator/server.py DEMO_USERS).
DEMO_BINDINGS = {
    "Andes Fleet Services": "11",
    "Pampa Transportes": "12",
    "Rio Cargo Logistica": "13",
    "Atlantic Couriers": "14",
    "Sierra Buses": "15",
    "Litoral Rent a Car": "16",
    "Patagonia Delivery": "17",
}


class DunningDemo(models.AbstractModel):
    _inherit = "dunning.demo"

    @api.model
    def _create_access_demo_data(self, traccar_id, webhook_id=None):
        """Link the demo customers to their simulator accounts and bring them in line
        (the calls are sent by the outbox job, once the simulator answers)."""
        platform = self.env["dunning.access.platform"].browse(traccar_id)
        partners = self.env["res.partner"].search(
            [("name", "in", list(DEMO_BINDINGS)), ("is_company", "=", True)]
        )
        # The simulator starts after the demo database is built: nothing to check yet.
        Binding = self.env["dunning.access.binding"].with_context(dunning_access_skip_check=True)
        existing = set(Binding.search([("platform_id", "=", platform.id)]).mapped("external_ref"))
        bindings = Binding.create(
            [
                {"partner_id": p.id, "platform_id": platform.id, "external_ref": DEMO_BINDINGS[p.name]}
                for p in partners
                if DEMO_BINDINGS[p.name] not in existing
            ]
        )
        if webhook_id:
            # The webhook platform mirrors one customer, to show signed deliveries.
            patagonia = partners.filtered(lambda p: p.name == "Patagonia Delivery")
            if patagonia and not Binding.search_count([("platform_id", "=", webhook_id)]):
                bindings |= Binding.create(
                    {"partner_id": patagonia.id, "platform_id": webhook_id, "external_ref": "PD-17"}
                )
        bindings._sync(why="Demo data")
