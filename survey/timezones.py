"""IANA time zone names, checked against the zone database."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class InvalidTimezone(ValueError):
    pass


def check_timezone(name: str) -> str:
    """The name if it is a known IANA zone (e.g. Europe/Madrid), else InvalidTimezone."""
    name = (name or "").strip()
    try:
        if not name or len(name) > 64:
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(
            f"{name[:64]!r} is not a known time zone. Use an IANA name such as Europe/Madrid."
        ) from None
    return name
