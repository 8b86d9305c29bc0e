from odoo import api, models

# Users the simulator seeds with ``--seed demo`` (simulator/server.py DEMO_USERS).
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
    def _create_access_demo_data(self, platform):
        """Link the demo customers to their simulator accounts and bring them in line."""
        partners = self.env["res.partner"].search([("name", "in", list(DEMO_BINDINGS)), ("is_company", "=", True)])
        Binding = self.env["dunning.access.binding"]
        existing = set(Binding.search([("platform_id", "=", platform.id)]).mapped("external_ref"))
        bindings = Binding.create(
            [
                {"partner_id": p.id, "platform_id": platform.id, "external_ref": DEMO_BINDINGS[p.name]}
                for p in partners
                if DEMO_BINDINGS[p.name] not in existing
            ]
        )
        bindings._sync(why="Demo data")
