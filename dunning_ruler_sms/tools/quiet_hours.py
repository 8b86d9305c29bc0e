"""Sending window of SMS: only between two local hours, optionally never on Sundays."""

from datetime import datetime, time, timedelta

import pytz

SUNDAY = 6


def _float_to_time(value):
    hours = int(value)
    minutes = round((value - hours) * 60)
    if hours >= 24:
        return time(23, 59, 59)
    return time(hours, minutes)


def next_window_opening(now_utc, tz_name, start, end, allow_sunday=False):
    """When the window next opens, or None if ``now_utc`` is inside it.

    :param datetime now_utc: naive UTC datetime (as Odoo stores them)
    :param str tz_name: the recipient's time zone (unknown names fall back to UTC)
    :param float start: opening hour, e.g. 8.0
    :param float end: closing hour, e.g. 20.5 for 20:30
    :return: naive UTC datetime or None
    """
    try:
        tz = pytz.timezone(tz_name or "UTC")
    except pytz.UnknownTimeZoneError:
        tz = pytz.utc
    local = pytz.utc.localize(now_utc).astimezone(tz)
    opening, closing = _float_to_time(start), _float_to_time(end)

    def allowed(day):
        return allow_sunday or day.weekday() != SUNDAY

    day = local.date()
    if allowed(day) and opening <= local.time() < closing:
        return None
    if not (allowed(day) and local.time() < opening):
        day += timedelta(days=1)
        while not allowed(day):
            day += timedelta(days=1)
    # localize() picks the right offset on DST days (normalize handles a skipped hour).
    local_opening = tz.normalize(tz.localize(datetime.combine(day, opening)))
    return local_opening.astimezone(pytz.utc).replace(tzinfo=None)
