"""Length and segment count of an SMS, as operators bill it.

GSM-7 (3GPP TS 23.038) fits 160 characters in one SMS and 153 per part of a
concatenated one; characters of the extension table (€, [, ], {, }, ...) take two.
Any other character switches the whole message to UCS-2: 70 per SMS, 67 per part,
counted in UTF-16 code units (an emoji takes two).
"""

import math

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")

# Spaces that amount formatting inserts (no-break, narrow no-break): sent as plain
# spaces so that a formatted amount does not force a whole message into UCS-2.
SMS_SPACE_TRANSLATION = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2009": " "})


def sms_normalize_text(text):
    return (text or "").translate(SMS_SPACE_TRANSLATION)


def sms_segment_info(text):
    """Return (encoding, length, segments) of ``text``: encoding is 'gsm7' or 'ucs2',
    length in encoding units, segments the number of SMS billed."""
    text = text or ""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        encoding, single, part = "gsm7", 160, 153
        length = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
    else:
        encoding, single, part = "ucs2", 70, 67
        length = len(text.encode("utf-16-le")) // 2
    if not length:
        return encoding, 0, 0
    return encoding, length, 1 if length <= single else math.ceil(length / part)
