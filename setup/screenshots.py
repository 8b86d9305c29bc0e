"""Take the README screenshots from a real browser (headless Chromium, DevTools protocol).

Usage: screenshots.py BASE_URL OUT_DIR  (called by setup/screenshots, which serves the demo DB)
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client, in the project venv

BASE, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH, HEIGHT = 1400, 860


def _read(path):
    with open(path) as f:
        return f.read()


class Browser:
    def __init__(self):
        chrome = next(
            (
                shutil.which(b)
                for b in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                if shutil.which(b)
            ),
            None,
        )
        if not chrome:
            sys.exit("chromium not found (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="dunning_shots_")
        self.proc = subprocess.Popen(
            [
                chrome,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(100):
            if os.path.exists(port_file) and _read(port_file).strip():
                break
            time.sleep(0.1)
        port = _read(port_file).split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.msg_id = 0
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method, **params):
        self.msg_id += 1
        self.ws.send(json.dumps({"id": self.msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if result.get("exceptionDetails"):
            raise RuntimeError(f"JS error in {expression[:80]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.js(f"!!document.querySelector({json.dumps(selector)})"):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{selector} not found on {self.js('location.href')}")

    def goto(self, path, selector):
        self.call("Page.navigate", url=BASE + path)
        time.sleep(0.5)
        self.wait_for(selector)
        time.sleep(1.5)  # let fonts, charts and animations settle

    def click(self, selector):
        self.wait_for(selector)
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def login(self, login, password):
        self.call("Network.clearBrowserCookies")
        self.goto("/web/login", "input[name=login]")
        self.js(
            f"""document.querySelector('input[name=login]').value = {json.dumps(login)};
                document.querySelector('input[name=password]').value = {json.dumps(password)};
                document.querySelector('form.oe_login_form').submit();"""
        )
        self.wait_for("body:not(:has(form.oe_login_form))")

    def shot(self, name, path=None):
        """The page as OUT/<name>.png, or as ``path``."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path = path or os.path.join(OUT, f"{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print(f"[screenshots] {path}")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def _rpc(b, model, method, *args, **kwargs):
    """A JSON-RPC call of the logged-in browser session."""
    payload = {"params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs}}
    return b.js(
        f"""fetch('/web/dataset/call_kw/{model}/{method}', {{method: 'POST',
                headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(payload))}}})
            .then(r => r.json()).then(r => r.result)"""
    )


def _addon_shot(b, addon, name):
    """A screenshot of an addon's Apps page: <addon>/static/description/screenshot_<name>.png
    (setup/gen_addon_files.py puts it on the page and in the README)."""
    b.shot(name, os.path.join(REPO, addon, "static", "description", f"screenshot_{name}.png"))


def _open_in_invoicing(b, model, res_id, selector):
    """The form of a record, in the Invoicing app (a record's URL alone shows it in
    whichever app comes first)."""
    b.goto(
        "/odoo/action-dunning_ruler.dunning_event_action",
        ".o_menu_sections [data-menu-xmlid='dunning_ruler.menu_dunning_root']",
    )
    action = {
        "type": "ir.actions.act_window",
        "res_model": model,
        "res_id": res_id,
        "views": [[False, "form"]],
    }
    b.js(f"odoo.__WOWL_DEBUG__.root.env.services.action.doAction({json.dumps(action)}).then(() => true)")
    b.wait_for(selector)
    time.sleep(1.5)


def shoot_sms_addon(b):
    """dunning_ruler_sms: a level sending SMS, and the HTTP gateway with its delivery reports."""
    [level] = _rpc(
        b,
        "dunning.level",
        "search_read",
        [("send_sms", "=", True), ("offset_days", ">", 0), ("ruler_id.name", "ilike", "standard")],
        fields=["id"],
        limit=1,
        order="offset_days",
    )
    _open_in_invoicing(b, "dunning.level", level["id"], ".o_form_view .o_field_widget[name=sms_template_id]")
    _addon_shot(b, "dunning_ruler_sms", "dunning_level_channels")
    [gateway] = _rpc(b, "sms.http.gateway", "search_read", [], fields=["id"], limit=1)
    _open_in_invoicing(b, "sms.http.gateway", gateway["id"], ".o_form_view .o_field_widget[name=url]")
    _addon_shot(b, "dunning_ruler_sms", "http_gateway")


def shoot_access_addon(b):
    """dunning_ruler_access: a platform's settings, and the outbox of calls to it."""
    [platform] = _rpc(b, "dunning.access.platform", "search_read", [], fields=["id"], limit=1, order="id")
    b.goto(
        f"/odoo/action-dunning_ruler_access.dunning_access_platform_action/{platform['id']}", ".o_form_view"
    )
    _addon_shot(b, "dunning_ruler_access", "platform_settings")
    b.goto("/odoo/action-dunning_ruler_access.dunning_access_call_action", ".o_list_view")
    # Every call, not only those needing attention (the default filter).
    b.click(".o_searchview_facet .o_facet_remove")
    b.wait_for(".o_list_view .o_data_row")
    time.sleep(1.5)
    _addon_shot(b, "dunning_ruler_access", "outbox_of_calls")


def main():
    os.makedirs(OUT, exist_ok=True)
    b = Browser()
    try:
        b.login("admin", "admin")
        b.goto("/odoo/action-dunning_ruler.dunning_dashboard_server_action", ".o_kanban_record")
        b.shot("dashboard")
        b.goto("/odoo/action-dunning_ruler.dunning_ruler_action", ".o_data_row")
        b.js(
            "[...document.querySelectorAll('.o_data_row')].find(r => r.textContent.includes('Standard'))"
            ".querySelector('td.o_data_cell').click()"
        )
        b.wait_for(".o_form_view .o_field_widget[name=level_ids] .o_data_row")
        time.sleep(1.5)
        b.shot("ruler_form")
        b.goto("/odoo/action-dunning_ruler.dunning_event_action", ".o_data_row")
        b.click(".o_menu_sections [data-menu-xmlid='dunning_ruler.menu_dunning_root']")
        b.click("[data-menu-xmlid='dunning_ruler.menu_dunning_preview']")
        b.click(".modal button[name=action_compute]")
        b.wait_for(".modal .o_field_widget[name=line_ids] .o_data_row")
        time.sleep(1.5)
        b.shot("preview")
        b.goto("/odoo/action-dunning_ruler.dunning_effectiveness_action", ".o_pivot")
        b.shot("effectiveness")
        # A reminder really sent by the demo runs (its body as the customer receives
        # it), then the statement page its "Pay now" link opens, without a login.
        domain = [("channel", "=", "email"), ("state", "=", "done"), ("message", "ilike", "/my/dunning/")]
        found = _rpc(
            b,
            "dunning.event",
            "search_read",
            [*domain, ("partner_id.name", "=", "Sierra Buses")],
            fields=["message"],
            limit=1,
            order="date desc, id desc",
        ) or _rpc(
            b, "dunning.event", "search_read", domain, fields=["message"], limit=1, order="date desc, id desc"
        )
        body = found[0]["message"] if found else ""
        if not body:
            raise RuntimeError("no reminder email with a statement link in the demo database")
        page = (
            '<html><body style="max-width: 760px; margin: 24px auto; font-family: sans-serif;">'
            "%s</body></html>"
        )
        b.call(
            "Page.navigate", url="data:text/html;base64," + base64.b64encode((page % body).encode()).decode()
        )
        b.wait_for("a[href*='/my/dunning/']")
        time.sleep(1)
        b.shot("reminder_email")
        # The link's path and token (its host is the demo database's web.base.url).
        statement = b.js(
            "(u => u.pathname + u.search)(new URL(document.querySelector(\"a[href*='/my/dunning/']\").href))"
        )
        b.call("Network.clearBrowserCookies")
        b.call("Page.navigate", url=BASE + statement)
        time.sleep(0.5)
        b.wait_for(".o_portal_dunning")
        time.sleep(1.5)
        b.shot("statement")
        b.login("portal", "portal")
        b.goto("/my/dunning", ".o_portal_dunning")
        b.shot("portal")
        b.login("admin", "admin")
        shoot_sms_addon(b)
        shoot_access_addon(b)
    finally:
        b.close()


if __name__ == "__main__":
    main()
