"""Smoke test of the whole installation: every project addon is installed in
the test database and the admin user the README advertises exists."""


def test_project_addons_installed(odoo_env, project_addons):
    modules = odoo_env["ir.module.module"].search([("name", "in", list(project_addons))])
    states = {m.name: m.state for m in modules}
    assert states == {name: "installed" for name in project_addons}


def test_admin_user_exists(odoo_env):
    admin = odoo_env.ref("base.user_admin")
    assert admin.login == "admin"
    assert admin.active
