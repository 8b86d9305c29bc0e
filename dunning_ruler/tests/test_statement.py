import re
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, JsonRpcException, tagged

from .common import DunningCommon


class StatementCommon(DunningCommon):
    """A customer with an overdue invoice, one in dispute and one not due yet; dates
    relative to today: the server answers on the real clock."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.overdue = cls._invoice(cls.customer, 1200.0, due=cls.today - timedelta(days=5))
        cls.overdue_2 = cls._invoice(cls.customer, 34.5, due=cls.today - timedelta(days=2))
        cls.disputed = cls._invoice(cls.customer, 500.0, due=cls.today - timedelta(days=9))
        cls.disputed.action_dunning_dispute("Wrong quantity")
        cls.future = cls._invoice(cls.customer, 99.0, due=cls.today + timedelta(days=10))
        cls.agent, cls.supervisor = cls._create_dunning_users("stmt", admin=False)
        cls.customer.dunning_user_id = cls.agent

    def _url(self, partner=None, company=None, token=None):
        partner = partner or self.customer
        url = partner._dunning_statement_url(company or self.company, absolute=False)
        if token is not None:
            url = re.sub(r"access_token=[^&]*", f"access_token={token}", url)
        return url


@tagged("post_install", "-at_install")
class TestStatementPage(StatementCommon, HttpCase):
    def test_statement_opens_with_its_token_only(self):
        url = self._url()
        self.assertIn(f"/my/dunning/{self.customer.id}?access_token=", url)
        page = self.url_open(url)
        self.assertEqual(page.status_code, 200)
        html = page.text
        for invoice in (self.overdue, self.overdue_2, self.disputed, self.future):
            self.assertIn(invoice.name, html)
            # Each invoice's own pay link, which works without a login too.
            self.assertIn(f"/my/invoices/{invoice.id}?access_token={invoice.access_token}", html)
            self.assertEqual(self.url_open(invoice.get_portal_url()).status_code, 200)
        # Amounts with their currency: total owed and overdue.
        symbol = self.currency.symbol
        owed = re.search(r'o_dunning_total_owed">(.*?)</div>\s*</div>', html, re.DOTALL).group(1)
        self.assertIn("1,833.50", owed)
        self.assertIn(symbol, owed)
        overdue = re.search(r"o_dunning_total_overdue[^>]*>(.*?)</div>\s*<div", html, re.DOTALL).group(1)
        self.assertIn("1,734.50", overdue)
        self.assertIn(symbol, overdue)
        # Pay all overdue: what is overdue and not in dispute.
        self.assertIn("o_dunning_pay_all", html)
        self.assertIn("1,234.50", html)
        # Refused without leaking anything: no token, a wrong one, another customer's,
        # a contact person of the customer with the customer's token, an unknown id.
        other = self._create_customer("Other Statement Co")
        self._invoice(other, 77.0, due=self.today - timedelta(days=3))
        person = self.env["res.partner"].create({"name": "Person", "parent_id": self.customer.id})
        token = self.customer.sudo().dunning_statement_token
        for bad in (
            f"/my/dunning/{self.customer.id}",
            self._url(token=""),
            self._url(token="x" + token[1:]),
            self._url(token=other._dunning_statement_url(absolute=False).split("access_token=")[1]),
            f"/my/dunning/{person.id}?access_token={token}",
            f"/my/dunning/{other.id + 100000}?access_token={token}",
        ):
            response = self.url_open(bad)
            self.assertEqual(response.status_code, 404, bad)
            self.assertNotIn(self.overdue.name, response.text)
            self.assertNotIn(self.customer.name, response.text)

    def test_statement_of_a_company_shows_its_invoices_only(self):
        other_company = self.setup_other_company()["company"]
        self._invoice(self.customer, 4321.0, due=self.today - timedelta(days=3), company=other_company)
        html = self.url_open(self._url()).text
        self.assertIn("1,200.00", html)
        self.assertNotIn("4,321.00", html)
        html = self.url_open(self._url(company=other_company)).text
        self.assertIn("4,321.00", html)
        self.assertNotIn("1,200.00", html)
        # Paying all overdue stays within the company of the page.
        self.assertIn(
            f"company_id={other_company.id}", re.search(r'href="([^"]*/pay\?[^"]*)"', html).group(1)
        )

    def test_rotated_token_refused(self):
        old = self._url()
        self.assertEqual(self.url_open(old).status_code, 200)
        with self.assertRaises(AccessError):
            self.customer.with_user(self.agent).action_dunning_rotate_statement_token()
        self.customer.with_user(self.supervisor).action_dunning_rotate_statement_token()
        new = self._url()
        self.assertNotEqual(new, old)
        self.assertEqual(self.url_open(old).status_code, 404)
        self.assertEqual(self.url_open(new).status_code, 200)
        self.assertIn("Statement link renewed", self.customer.message_ids[:1].body)

    def test_reminder_links_to_the_statement(self):
        self._run(self.today)
        event = self._events(state="done", channel="email").filtered("mail_message_id")[:1]
        self.assertTrue(event)
        href = re.search(r'href="([^"]*/my/dunning/[^"]*)"', str(event.mail_message_id.body)).group(1)
        href = href.replace("&amp;", "&")
        self.assertEqual(href, self.customer._dunning_statement_url(self.company))
        page = self.url_open(href[len(self.customer.get_base_url()) :])
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.overdue.name, page.text)

    def test_pay_all_overdue_creates_a_transaction(self):
        provider = self._dunning_test_provider()
        pay_url = f"/my/dunning/{self.customer.id}/pay?" + self._url().split("?")[1]
        pay_url += f"&currency_id={self.currency.id}"
        page = self.url_open(pay_url)
        self.assertEqual(page.status_code, 200)
        self.assertIn("o_payment_form", page.text)
        route = re.search(r'data-transaction-route="([^"]+)"', page.text).group(1)
        self.assertEqual(
            route, f"/my/dunning/{self.customer.id}/transaction/{self.company.id}/{self.currency.id}"
        )
        token = self.customer.sudo().dunning_statement_token
        params = {
            "provider_id": provider.id,
            "payment_method_id": provider.payment_method_ids[:1].id,
            "token_id": None,
            "amount": 1.0,  # whatever the browser sends: what is overdue is paid
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": self._url(),
            "is_validation": False,
            "access_token": token,
            "payment_reference": "STMT-TEST",
        }
        Transaction = self.env["payment.transaction"]
        with self.assertRaises(JsonRpcException):
            self.make_jsonrpc_request(route, {**params, "access_token": "wrong"})
        self.assertFalse(Transaction.search([("invoice_ids", "in", self.overdue.ids)]))
        self.make_jsonrpc_request(route, params)
        tx = Transaction.search([("invoice_ids", "in", self.overdue.ids)])
        self.assertEqual(len(tx), 1)
        self.assertEqual(tx.invoice_ids, self.overdue | self.overdue_2, "not in dispute nor not due yet")
        self.assertAlmostEqual(tx.amount, 1234.5)
        self.assertEqual(tx.currency_id, self.currency)
        self.assertEqual(tx.partner_id, self.customer)
        self.assertEqual(tx.provider_id, provider)

    def _dunning_test_provider(self):
        """Odoo's payment test provider ("none", as payment's own tests)."""
        method = self.env.ref("payment.payment_method_unknown")
        self.env["payment.provider"].search([("company_id", "=", self.company.id)]).state = "disabled"
        provider = self.env["payment.provider"].create(
            {
                "name": "Dunning test provider",
                "code": "none",
                "state": "test",
                "is_published": True,
                "company_id": self.company.id,
                "payment_method_ids": [Command.set(method.ids)],
                "available_currency_ids": [Command.set(self.currency.ids)],
            }
        )
        method.write({"active": True})
        return provider

    def _promise(self, day):
        if not getattr(self, "_csrf", None):
            page = self.url_open(self._url())
            self._csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        data = {
            "access_token": self.customer.sudo().dunning_statement_token,
            "company_id": self.company.id,
            "promise_date": str(day),
            "csrf_token": self._csrf,
        }
        return self.url_open(f"/my/dunning/{self.customer.id}/promise", data=data, allow_redirects=False)

    def test_promise_to_pay(self):
        self.company.write({"dunning_promise_max_days": 7, "dunning_promise_interval_days": 30})
        html = self.url_open(self._url()).text
        self.assertIn("o_dunning_promise", html)
        self.assertIn(f'max="{self.today + timedelta(days=7)}"', html)
        # Refused, nothing changed: too far, in the past, today, not a date, a bad token.
        for day, message in (
            (self.today + timedelta(days=8), "no later than"),
            (self.today - timedelta(days=1), "after today"),
            (self.today, "after today"),
            ("soon", "choose the date"),
        ):
            response = self._promise(day)
            self.assertEqual(response.status_code, 400, day)
            self.assertIn(message, response.text)
            self.assertIn("o_dunning_promise_error", response.text)
        bad = self.url_open(
            f"/my/dunning/{self.customer.id}/promise",
            data={
                "access_token": "bad",
                "promise_date": str(self.today + timedelta(days=2)),
                "csrf_token": self._csrf,
            },
            allow_redirects=False,
        )
        self.assertEqual(bad.status_code, 404)
        self.assertFalse(self.customer.dunning_hold_until)
        self.assertFalse(self._events(origin="portal"))
        # Accepted: the hold, the event, the agent's to-do.
        promised = self.today + timedelta(days=7)
        response = self._promise(promised)
        self.assertEqual(response.status_code, 303, response.text[:500])
        self.assertIn("promised=1", response.headers["Location"])
        self.assertEqual(self.customer.dunning_hold_until, promised + timedelta(days=1))
        event = self._events(origin="portal")
        self.assertEqual(len(event), 1)
        self.assertFalse(event.user_id)
        self.assertIn(str(promised), event.message)
        activity = self.customer.activity_ids.filtered(lambda a: str(promised) in (a.summary or ""))
        self.assertEqual(activity.user_id, self.agent)
        done = self.url_open(response.headers["Location"]).text
        self.assertIn("o_dunning_promise_done", done)
        # Once per 30 days.
        html = self.url_open(self._url()).text
        self.assertIn("o_dunning_promise_refused", html)
        again = self._promise(self.today + timedelta(days=3))
        self.assertEqual(again.status_code, 400)
        self.assertIn("already promised", again.text)
        self.assertEqual(self.customer.dunning_hold_until, promised + timedelta(days=1))
        self.assertEqual(len(self._events(origin="portal")), 1)

    def test_nothing_owed_still_shows_the_currency(self):
        customer = self._create_customer("Paid Up Co")
        html = self.url_open(customer._dunning_statement_url(self.company, absolute=False)).text
        owed = re.search(r'o_dunning_total_owed">(.*?)</div>\s*</div>', html, re.DOTALL).group(1)
        self.assertIn("0.00", owed)
        self.assertIn(self.currency.symbol, owed)
        self.assertIn("You have no open invoice", html)
        self.assertNotIn("o_dunning_pay_all", html)
        self.assertNotIn("o_dunning_promise", html, "nothing to promise")

    def test_login_portal_page_still_works(self):
        user = self._create_portal_user(self.customer, "Stmt Portal", "stmt_portal")
        self.authenticate(user.login, f"{user.login}_pw")
        page = self.url_open("/my/dunning")
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.overdue.name, page.text)
        self.assertNotIn("o_dunning_promise", page.text)

    def test_tour_statement_promise(self):
        self.company.write({"dunning_promise_max_days": 5, "dunning_promise_interval_days": 30})
        self.start_tour(self._url(), "dunning_statement_tour")
        # Promised by the latest date allowed (5 days): held until the day after it.
        self.assertEqual(self.customer.dunning_hold_until, self.today + timedelta(days=6))
        self.assertTrue(self._events(origin="portal"))


@tagged("post_install", "-at_install")
class TestPromiseResumes(DunningCommon):
    """No page opened: fixed dates, not StatementCommon's (relative to today)."""

    def test_unpaid_promise_resumes_by_itself(self):
        """A run skips the customer until the promised date has passed, then dunning
        goes on as before."""
        customer = self._create_customer("Promise Co")
        self._invoice(customer, 300.0, due=self.DUE)
        day = self.DUE + timedelta(days=1)
        with freeze_time(day):
            customer._dunning_promise_to_pay(self.company, day + timedelta(days=4))
        self.assertEqual(customer.dunning_hold_until, day + timedelta(days=5))
        self._run(self.DUE + timedelta(days=3))  # "Overdue" due, held
        self._run(day + timedelta(days=4))
        self.assertFalse(self._events(customer, state="done", channel="email"), "held until the date passed")
        self._run(day + timedelta(days=5))
        sent = self._events(customer, state="done", channel="email")
        self.assertEqual(sent.level_id.mapped("name"), ["Overdue"], "dunning resumed, unpaid")

    def test_promise_agent_is_never_the_superuser(self):
        customer = self._create_customer("No Agent Co")
        self.grade_standard.user_id = False
        agent = customer._dunning_promise_agent(self.company)
        self.assertTrue(agent)
        self.assertNotEqual(agent, self.env.ref("base.user_root"))
        self.assertTrue(agent.has_group("dunning_ruler.group_dunning_supervisor"))
        # The company's default dunning user comes before any supervisor, as for the
        # activities of the levels (res.partner._dunning_responsible_user).
        default_user = self.env["res.users"].create(
            {"name": "Default Dunning", "login": "default_dunning_promise", "company_id": self.company.id}
        )
        self.company.dunning_activity_user_id = default_user
        self.assertEqual(customer._dunning_promise_agent(self.company), default_user)
        # The superuser is never chosen, even named as the default.
        self.company.dunning_activity_user_id = self.env.ref("base.user_root")
        self.assertNotEqual(customer._dunning_promise_agent(self.company), self.env.ref("base.user_root"))
