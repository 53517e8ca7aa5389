"""Reading numbers from query strings and forms without trusting them."""

from werkzeug.datastructures import MultiDict

# Larger than any row id or page number this service will see, small enough for every
# database integer column: a bigger value is treated as absent, not passed to SQL.
LARGEST = 2**31 - 1


def parse_whole_number(text: str, longest: int = 10) -> int | None:
    """`text` as a whole number if it is at most `longest` ASCII digits, else None: the one
    reading of a number typed into a query string or a form. int() alone would also read
    other scripts' digits, signs, spaces and underscores, and any length of digits."""
    if not (text.isascii() and text.isdigit()) or len(text) > longest:
        return None
    return int(text)


def whole_number(args: MultiDict, name: str, default: int, least: int = 0) -> int:
    """The parameter as a whole number between `least` and LARGEST, else `default`."""
    value = parse_whole_number(args.get(name, ""))
    return value if value is not None and least <= value <= LARGEST else default


def search_text(args: MultiDict, name: str, longest: int = 64) -> str:
    """A search term: trimmed, at most `longest` characters, and empty when it holds
    characters no reference has (control characters; PostgreSQL refuses NUL outright)."""
    text = args.get(name, "").strip()
    return text if len(text) <= longest and text.isprintable() else ""
