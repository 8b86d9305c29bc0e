{
    "name": "Dunning Ruler - Platform Access",
    "summary": "Restrict, then block a defaulting customer's access to a tracking platform "
    "(Traccar or any webhook), lifted as soon as they pay",
    "version": "19.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/dunning-ruler/dunning-ruler",
    "author": "Dunning Ruler",
    "maintainers": ["dunning-ruler"],
    "license": "AGPL-3",
    "depends": ["dunning_ruler"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/dunning_access_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/dunning_level_data.xml",
        "views/dunning_access_platform_views.xml",
        "views/dunning_access_binding_views.xml",
        "views/dunning_access_call_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
        "wizard/dunning_access_trust_wizard_views.xml",
        "views/dunning_access_menus.xml",
    ],
    "demo": [
        "demo/dunning_access_platform_demo.xml",
    ],
}
