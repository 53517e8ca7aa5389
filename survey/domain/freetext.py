"""Free text people type into the service (a patient's reason, a clinician's note, a site's
words to patients): kept as typed, apart from what no page should ever store."""

import unicodedata

# Tab and newline are writing; every other control character, bidirectional overrides and
# isolates (which make a text read differently from what was typed), and lone surrogates
# are not. Other format characters stay: the zero-width joiner holds emoji together.
KEPT_CONTROLS = {"\n", "\t"}
BIDI_CONTROLS = {chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


class FreeTextRefused(ValueError):
    """The text cannot be kept; `kind` is "too long" or "characters"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def clean_free_text(text: str | None, max_length: int) -> str:
    """The text as stored: line endings made plain and surrounding space trimmed. Raises
    FreeTextRefused for more than `max_length` characters, or characters no page keeps."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > max_length:
        raise FreeTextRefused("too long")
    for char in text:
        if char in KEPT_CONTROLS:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            raise FreeTextRefused("characters")
    return text
