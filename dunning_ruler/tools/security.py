"""Guards shared by the dunning addons."""

from odoo.exceptions import AccessError


def check_technical_fields(records, vals, create=False):
    """Refuse ``vals`` touching ``records._TECHNICAL_FIELDS`` unless the caller is the
    superuser (dunning's own code) or a system administrator. A view's ``readonly``
    is no guard: anyone with write access could send them over RPC. On create, a
    field's default value is allowed (clients send the defaults of a new record),
    and a ``default_<field>`` in the context counts as a value given. Models get it
    on their create and write by inheriting ``dunning.technical.mixin``."""
    env = records.env
    if env.su or env.user.has_group("base.group_system"):
        return
    given = dict(vals)
    if create:
        for key, value in env.context.items():
            if key.startswith("default_") and key[8:] in records._TECHNICAL_FIELDS:
                given.setdefault(key[8:], value)
    refused = []
    for fname in records._TECHNICAL_FIELDS:
        if fname not in given:
            continue
        field = records._fields[fname]
        if create:
            default = field.default(records) if field.default else False
            if field.convert_to_cache(given[fname], records) == field.convert_to_cache(default, records):
                continue
        elif all(
            field.convert_to_record(field.convert_to_cache(given[fname], record), record) == record[fname]
            for record in records
        ):
            continue
        refused.append(field.string)
    if refused:
        raise AccessError(
            env._(
                "%(fields)s of %(model)s are kept by dunning itself and cannot be set by hand.",
                fields=", ".join(refused),
                model=records._description,
            )
        )
