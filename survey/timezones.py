"""IANA time zone names, checked against the zone database."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l


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
            _l(
                "%(name)s is not a known time zone. Use an IANA name such as Europe/Madrid.",
                name=repr(name[:64]),
            )
        ) from None
    return name
