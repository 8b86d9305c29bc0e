from dateutil.relativedelta import relativedelta

from odoo import api, fields, models

# (customer, grade code, [(days until due, amount, paid share)])
DEMO_CUSTOMERS = [
    ("Andes Fleet Services", "VIP", [(5, 1800.0, 0), (-4, 2400.0, 0), (-20, 950.0, 0)]),
    ("Pampa Transportes", "STD", [(2, 640.0, 0), (0, 410.0, 0)]),
    ("Rio Cargo Logistica", "STD", [(-3, 1250.0, 0), (-12, 780.0, 0.5)]),
    ("Atlantic Couriers", "STD", [(-10, 2100.0, 0), (-16, 560.0, 0)]),
    ("Sierra Buses", "STD", [(-31, 3900.0, 0), (-45, 1200.0, 0), (-8, 300.0, 1)]),
    ("Litoral Rent a Car", "RISK", [(-1, 720.0, 0), (-6, 1450.0, 0)]),
    ("Patagonia Delivery", "RISK", [(-9, 2600.0, 0), (-16, 990.0, 0)]),
]


class DunningDemo(models.AbstractModel):
    _name = "dunning.demo"
    _description = "Dunning demo data"

    @api.model
    def _create_demo_data(self):
        """Customers of each grade with invoices at every stage of their ruler, some paid."""
        company = self.env.ref("base.main_company")
        env = self.with_company(company).env
        today = fields.Date.context_today(self)
        product = env.ref("product.product_product_1", raise_if_not_found=False) or env[
            "product.product"
        ].search([("sale_ok", "=", True)], limit=1)
        grades = {g.code: g for g in env["dunning.grade"].search([("company_id", "=", company.id)])}
        to_pay = []
        for name, code, invoices in DEMO_CUSTOMERS:
            partner = env["res.partner"].create(
                {
                    "name": name,
                    "is_company": True,
                    "email": name.lower().replace(" ", ".") + "@example.com",
                    "phone": "+55 11 91234-5678",
                    "country_id": env.ref("base.br").id,
                }
            )
            partner.dunning_grade_id = grades.get(code)
            for days, amount, paid_share in invoices:
                due = today + relativedelta(days=days)
                move = env["account.move"].create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_date": due - relativedelta(days=30),
                        "invoice_date_due": due,
                        "invoice_line_ids": [
                            fields.Command.create(
                                {
                                    "product_id": product.id,
                                    "name": "Monthly subscription",
                                    "quantity": 1,
                                    "price_unit": amount,
                                    "tax_ids": [],
                                }
                            )
                        ],
                    }
                )
                move.action_post()
                if paid_share:
                    to_pay.append((move, paid_share))
        for move, share in to_pay:
            env["account.payment.register"].with_context(
                active_model="account.move", active_ids=move.ids
            ).create({"amount": move.amount_residual * share, "payment_date": today})._create_payments()
        env["dunning.ruler"].sudo().run_dunning()
