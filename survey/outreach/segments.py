"""How many SMS segments a text takes, and in which encoding: what the clinic pays for.

A text that fits the GSM 03.38 alphabet is sent in GSM-7: 160 characters in one segment,
153 per segment when it has to be split (the rest of each segment carries the header that
joins them). Characters of the extension table (such as € or [) take two septets, and an
escape pair is never split between segments. Any other character (Turkish ı, ş, ğ; Spanish
á, í, ó, ú; emoji) switches the whole text to UCS-2: 70 code units in one segment, 67 per
segment when split; a character outside the Basic Multilingual Plane takes two units, and a
pair is never split either.
"""

from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}
PER_PART = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SegmentCount:
    """A text's encoding, its length in that encoding's units, and its number of segments."""

    encoding: str
    units: int
    segments: int
    # The characters that forced UCS-2 (empty for GSM-7), so a clinic can reword if it wishes.
    unicode_characters: tuple[str, ...] = ()


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _unit_sizes(text: str, encoding: str) -> list[int]:
    """Each character's size in the encoding's units (septets or UTF-16 code units)."""
    if encoding == GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def count_segments(text: str) -> SegmentCount:
    """The encoding and number of segments a provider needs to send `text`."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    unicode_characters = (
        tuple(sorted({char for char in text if char not in GSM7_BASIC | GSM7_EXTENSION}))
        if encoding == UCS2
        else ()
    )
    if units == 0:
        return SegmentCount(encoding, 0, 0, unicode_characters)
    if units <= SINGLE[encoding]:
        return SegmentCount(encoding, units, 1, unicode_characters)
    segments, used = 1, 0
    for size in sizes:
        # A character that does not fit whole starts the next segment.
        if used + size > PER_PART[encoding]:
            segments, used = segments + 1, 0
        used += size
    return SegmentCount(encoding, units, segments, unicode_characters)
