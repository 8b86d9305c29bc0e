{
    "name": "Dunning Ruler: Queue Jobs",
    "summary": "Scheduled dunning runs split into one queue job per batch of customers, "
    "spread by OCA's job runner over the workers of every Odoo server",
    "version": "19.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/dunning-ruler/dunning-ruler",
    "author": "Dunning Ruler",
    "maintainers": ["dunning-ruler"],
    "license": "AGPL-3",
    "depends": ["dunning_ruler", "queue_job"],
    "data": [
        "data/queue_job_data.xml",
    ],
    "auto_install": True,
}
