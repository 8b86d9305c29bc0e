from datetime import date, timedelta

from odoo import Command, fields
from odoo.tests import HttpCase

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class DunningCommon(AccountTestInvoicingCommon):
    """Rulers, grades and invoices built explicitly, on fixed dates: nothing here
    depends on today's date."""

    DUE = date(2026, 3, 16)  # a Monday

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The accounting test user also supervises dunning.
        cls.env.user.group_ids = [Command.link(cls.env.ref("dunning_ruler.group_dunning_supervisor").id)]
        cls.company = cls.env.company
        cls.currency = cls.company.currency_id
        cls.template = cls.env.ref("dunning_ruler.mail_template_dunning_overdue")
        cls.ruler = cls._create_ruler(
            "Test standard",
            [
                (-2, "Before due"),
                (0, "Due today"),
                (3, "Overdue"),
                (10, "Final"),
                (15, "Restrict"),
                (30, "Block"),
            ],
        )
        cls.ruler_strict = cls._create_ruler(
            "Test strict", [(-5, "Early"), (0, "Due"), (1, "Late"), (7, "Restrict"), (15, "Block")]
        )
        Grade = cls.env["dunning.grade"]
        cls.grade_standard = Grade.create({"name": "Std", "code": "T-STD", "ruler_id": cls.ruler.id})
        cls.grade_vip = Grade.create(
            {
                "name": "Vip",
                "code": "T-VIP",
                "ruler_id": cls.ruler.id,
                "grace_days": 5,
            }
        )
        cls.grade_risk = Grade.create({"name": "Risk", "code": "T-RISK", "ruler_id": cls.ruler_strict.id})
        cls.grade_none = Grade.create(
            {"name": "Never", "code": "T-NONE", "ruler_id": cls.ruler.id, "no_dunning": True}
        )
        cls.company.dunning_default_grade_id = cls.grade_standard
        # Default data rulers of the main company must not interfere.
        cls.env["dunning.ruler"].search([("id", "not in", (cls.ruler | cls.ruler_strict).ids)]).active = False
        cls.customer = cls._create_customer("Customer Standard")

    @classmethod
    def _create_ruler(cls, name, levels, company=None, **vals):
        return cls.env["dunning.ruler"].create(
            {
                "name": name,
                "company_id": (company or cls.env.company).id,
                "level_ids": [
                    Command.create(
                        {
                            "name": level_name,
                            "offset_days": offset,
                            "send_email": True,
                            "mail_template_id": cls.template.id,
                        }
                    )
                    for offset, level_name in levels
                ],
                **vals,
            }
        )

    @classmethod
    def _create_customer(cls, name, grade=None, **vals):
        partner = cls.env["res.partner"].create(
            {
                "name": name,
                "is_company": True,
                "email": f"{name.lower().replace(' ', '.')}@example.com",
                **vals,
            }
        )
        if grade:
            partner.dunning_grade_id = grade
        return partner

    @classmethod
    def _level(cls, offset, ruler=None):
        """The level of ``ruler`` (default: the standard test ruler) at ``offset`` days."""
        return (ruler or cls.ruler).level_ids.filtered(lambda lvl: lvl.offset_days == offset)

    @staticmethod
    def _payment_term_lines(invoices):
        """The installments (payment term journal items) of ``invoices``."""
        return invoices.line_ids.filtered(lambda line: line.display_type == "payment_term")

    @classmethod
    def _create_user(cls, login, name, group_xmlid, **values):
        """A user of the test company only, in one group; ``values``: more of its values."""
        return (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": name,
                    "login": login,
                    "company_id": cls.company.id,
                    "company_ids": [Command.set(cls.company.ids)],
                    "group_ids": [Command.set(cls.env.ref(group_xmlid).ids)],
                    **values,
                }
            )
        )

    @classmethod
    def _create_dunning_users(cls, prefix, admin=True, password=False):
        """An agent, a supervisor and (``admin``) a system administrator who also
        supervises dunning, as Odoo's administrator does: logins ``<prefix>_agent``,
        ``<prefix>_supervisor``, ``<prefix>_admin``; with ``password``, each user's
        password is its login followed by ``_pw``."""
        users = [
            cls._create_user(f"{prefix}_agent", f"{prefix} agent", "dunning_ruler.group_dunning_agent"),
            cls._create_user(
                f"{prefix}_supervisor", f"{prefix} supervisor", "dunning_ruler.group_dunning_supervisor"
            ),
        ]
        if admin:
            users.append(cls._create_user(f"{prefix}_admin", f"{prefix} sysadmin", "base.group_system"))
            users[-1].group_ids += cls.env.ref("dunning_ruler.group_dunning_supervisor")
        if password:
            for user in users:
                user.password = f"{user.login}_pw"
        return users

    @classmethod
    def _create_portal_user(cls, customer, name, login):
        """A portal user, a contact person of ``customer``; password: ``<login>_pw``."""
        person = cls.env["res.partner"].create({"name": name, "parent_id": customer.id})
        return cls._create_user(
            login, name, "base.group_portal", partner_id=person.id, password=f"{login}_pw"
        )

    @classmethod
    def _invoice(
        cls,
        partner,
        amount,
        due=None,
        currency=None,
        payment_term=None,
        post=True,
        company=None,
        invoice_date=None,
    ):
        due = due or cls.DUE
        company = company or cls.env.company
        vals = {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "invoice_date": invoice_date or date(due.year, due.month, 1)
            if payment_term
            else invoice_date or due,
            "currency_id": (currency or company.currency_id).id,
            "invoice_line_ids": [
                Command.create({"name": "Subscription", "quantity": 1, "price_unit": amount, "tax_ids": []})
            ],
        }
        if payment_term:
            vals["invoice_payment_term_id"] = payment_term.id
        else:
            vals["invoice_date_due"] = due
        move = cls.env["account.move"].with_company(company).create(vals)
        if post:
            move.action_post()
        return move

    def _pay(self, invoice, amount=None, payment_date=None):
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "amount": amount if amount is not None else invoice.amount_residual,
                    "payment_date": payment_date or fields.Date.context_today(self.env.user),
                }
            )
        )
        return wizard._create_payments()

    def _run(self, day):
        return self.env["dunning.ruler"].run_dunning(as_of=day)

    def _events(self, partner=None, **filters):
        domain = [("partner_id", "=", (partner or self.customer).id)]
        domain += [(key, "=", value) for key, value in filters.items()]
        return self.env["dunning.event"].search(domain, order="date, id")


class DunningRpcCase(DunningCommon, HttpCase):
    """Real users calling the server: ``_call`` calls a model method over JSON-RPC as
    the web client does (``call_kw``), as the user last authenticated."""

    def _call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw", {"model": model, "method": method, "args": list(args), "kwargs": kwargs}
        )


class DunningTourCase(DunningCommon, HttpCase):
    """Tours in a real browser, on the real clock: one customer with an invoice five
    days overdue (dates relative to today on purpose; outcomes do not depend on it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.tour_customer = cls._create_customer("Tour Customer")
        cls.tour_invoice = cls._invoice(cls.tour_customer, 1234.5, due=cls.today - timedelta(days=5))
