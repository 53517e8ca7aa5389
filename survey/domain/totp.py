"""Time-based one-time codes (RFC 6238, as authenticator apps make them) for staff.

A code is accepted in the 30-second step it belongs to or one step either side (phone clocks
drift), and only if its step is later than the last one accepted for that user, so a code
seen over someone's shoulder cannot be used again."""

import hmac
from datetime import datetime

import pyotp
import segno
from markupsafe import Markup

DIGITS = 6


def new_secret() -> str:
    """A random key: 32 base32 characters, 160 bits (RFC 4226's recommended length)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app takes (typed or pasted, or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_code_svg(uri: str, title: str) -> Markup:
    """The provisioning address as a QR code, an inline SVG drawn on the server (segno: no
    image library, no script, nothing fetched), named by `title` for screen readers."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, border=4, title=title, svgclass="totp-qr", lineclass=None, dark="#000"
    )
    # segno escapes the title; the address itself is drawn, never written out.
    return Markup(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))  # noqa: S704


def grouped(secret: str) -> str:
    """The key in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalised(code: str) -> str | None:
    """The six digits of a typed code (spaces and dashes allowed), or None."""
    code = "".join(ch for ch in (code or "") if ch not in " -\t")
    if len(code) == DIGITS and code.isascii() and code.isdigit():
        return code
    return None


def accepted_step(secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
    """The step of a valid, unused code (to be stored as the user's last), else None."""
    digits = normalised(code)
    if digits is None or not secret:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step if last_step is None or step > last_step else None
    return None


def code_for(secret: str, now: datetime) -> str:
    """The current code (for tests and the command line's checks)."""
    return pyotp.TOTP(secret).at(now)
