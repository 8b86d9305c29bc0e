"""Credentials out of the texts people read.

An outbound connector (the SMS gateway, the access platforms) stores what went wrong
(the exception, the start of the answer) where agents read it: on dunning events, on
platform calls, in the chatter. Those texts may quote a credential (an exception
quotes the request line, some servers echo the request), so they go through
:func:`redact` first. Pure Python: the access connector calls it from worker threads.
"""

from urllib.parse import unquote, urlsplit

MASK = "***"
#: shorter pieces say nothing and would mask ordinary words
MIN_SECRET_LENGTH = 4


def redact_url(url):
    """``url`` reduced to its scheme, host and port: a key may sit in its user info,
    path, query or fragment."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    except ValueError:
        return MASK


def url_secrets(url):
    """The pieces of ``url`` that may be secret: the whole URL, its request target
    (path and query), query, fragment, user, password and each query value (raw and
    decoded). Its scheme and host are not among them."""
    found = {url or ""}
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return found
    found.update({parts.path + (f"?{parts.query}" if parts.query else ""), parts.query, parts.fragment})
    found.update({parts.username or "", parts.password or ""})
    for pair in parts.query.split("&"):
        value = pair.partition("=")[2]
        found.update({value, unquote(value)})
    return found


def redact(text, secrets=(), url=None):
    """``text`` with every one of ``secrets`` and the secret pieces of ``url``
    (:func:`url_secrets`) replaced by ``***``; empty or None ``text`` as it is."""
    if not text:
        return text
    found = {secret or "" for secret in secrets}
    if url:
        found |= url_secrets(url)
    # Longest first: a token inside the full URL or header value goes with it.
    for secret in sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
