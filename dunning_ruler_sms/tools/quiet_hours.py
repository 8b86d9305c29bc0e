"""Sending window of SMS: only between two local hours, optionally never on Sundays."""

from datetime import datetime, time, timedelta

import pytz

SUNDAY = 6
MINUTES_PER_DAY = 24 * 60


def is_whole_minutes(hours):
    """Whether ``hours`` (8.5 for 08:30) is a time of whole minutes, as the hour
    widget enters them (20:20 is 20.333..., not exactly representable)."""
    minutes = hours * 60
    return abs(minutes - round(minutes)) < 1e-6


def _float_to_time(value):
    """The time of day of ``value`` hours, to the nearest minute (7.995 is 08:00),
    24 and more the end of the day. Settings are validated when saved; this never
    fails on a value stored before that."""
    minutes = min(max(round(value * 60), 0), MINUTES_PER_DAY)
    if minutes == MINUTES_PER_DAY:
        return time(23, 59, 59)
    return time(*divmod(minutes, 60))


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
