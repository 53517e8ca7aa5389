"""The characters no stored text may hold (survey/text.py has the whole policy). Plain Python,
so that the questionnaire definitions (survey/instruments, no Flask) are checked by it too."""

import unicodedata

# Unicode general categories never stored: control (Cc), format (Cf: the direction overrides
# and isolates, zero-width characters), surrogate (Cs), private use (Co), unassigned (Cn),
# line and paragraph separators (Zl, Zp).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
LINE_BREAKS = "\t\n\r"  # allowed, and folded into spaces, in a multi-line field only


def refused_characters(value: str, lines: bool = False) -> list[str]:
    """The refused code points in `value`, as "U+202E", each once, in order of appearance."""
    found = []
    for character in value:
        if lines and character in LINE_BREAKS:
            continue
        if unicodedata.category(character) in REFUSED_CATEGORIES:
            name = f"U+{ord(character):04X}"
            if name not in found:
                found.append(name)
    return found


def scrub(value: str | None, longest: int) -> str | None:
    """A machine-supplied text made storable: refused characters become U+FFFD, spaces are
    folded, the length is cut to `longest`. None or nothing left gives None."""
    if not value:
        return None
    value = unicodedata.normalize("NFC", value)
    value = "".join("\ufffd" if unicodedata.category(c) in REFUSED_CATEGORIES else c for c in value)
    return " ".join(value.split())[:longest] or None
