"""Reading numbers from query strings without trusting them."""

from werkzeug.datastructures import MultiDict

# Larger than any row id or page number this service will see, small enough for every
# database integer column: a bigger value is treated as absent, not passed to SQL.
LARGEST = 2**31 - 1


def whole_number(args: MultiDict, name: str, default: int, least: int = 0) -> int:
    """The parameter as a whole number between `least` and LARGEST, else `default`."""
    text = args.get(name, "")
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return default
    value = int(text)
    return value if least <= value <= LARGEST else default


def search_text(args: MultiDict, name: str, longest: int = 64) -> str:
    """A search term: trimmed, at most `longest` characters, and empty when it holds
    characters no reference has (control characters; PostgreSQL refuses NUL outright)."""
    text = args.get(name, "").strip()
    return text if len(text) <= longest and text.isprintable() else ""
