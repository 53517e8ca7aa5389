"""Setting up sites and staff accounts (used by the CLI and the admin pages)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey import text
from survey.domain.languages import SOURCE_LANGUAGE, interface_languages
from survey.models import Role, Site, User, site_memberships, user_by_email
from survey.passwords import hash_password, password_problem
from survey.phones import check_country
from survey.timezones import check_timezone


class StaffSetupError(ValueError):
    """A site or account could not be created; the message says why."""


def find_site(db: Session, name: str) -> Site:
    site = None
    if text.SITE_NAME.is_valid(name):  # a name that could never be stored is not looked up
        site = db.scalar(select(Site).where(Site.name == text.SITE_NAME.clean(name)))
    if site is None:
        raise StaffSetupError(f"There is no site called {name.strip()[:120]!r}.")
    return site


def create_site(
    db: Session,
    name: str,
    timezone: str = "UTC",
    language: str = SOURCE_LANGUAGE,
    contact: str = "",
    country: str | None = None,
) -> Site:
    """Add a site; names are unique."""
    site = Site()
    _set_site_fields(db, site, name, timezone, language, contact, country)
    db.add(site)
    return site


def update_site(
    db: Session,
    site: Site,
    *,
    name: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    contact: str | None = None,
    country: str | None = None,
) -> dict[str, tuple]:
    """Change a site's details (None: keep); returns {field: (old, new)} of what changed.
    Patients already enrolled keep their own time zone and language."""
    before = {field: getattr(site, field) for field in SITE_FIELDS}
    _set_site_fields(
        db,
        site,
        site.name if name is None else name,
        site.timezone if timezone is None else timezone,
        site.default_language if language is None else language,
        site.contact if contact is None else contact,
        site.country if country is None else country,
    )
    return {
        field: (before[field], getattr(site, field))
        for field in SITE_FIELDS
        if before[field] != getattr(site, field)
    }


SITE_FIELDS = ("name", "country", "timezone", "default_language", "contact")


def _set_site_fields(
    db: Session,
    site: Site,
    name: str,
    timezone: str,
    language: str,
    contact: str,
    country: str | None,
) -> None:
    """Check every field first, then set them all: a refused change leaves the site as it was."""
    try:
        name, contact = text.SITE_NAME.clean(name), text.SITE_CONTACT.clean(contact)
    except text.TextError as error:
        raise StaffSetupError(str(error)) from None
    languages = interface_languages()
    if language not in languages:
        raise StaffSetupError(
            f"{str(language)[:16]!r} is not a language. Choose one of: {', '.join(languages)}."
        )
    try:
        country = check_country(country)
    except ValueError:
        raise StaffSetupError(
            f"{str(country).strip()[:8]!r} is not a country code. Use the two letters of "
            "ISO 3166-1, e.g. ES or TR."
        ) from None
    taken = select(Site.id).where(Site.name == name)
    if site.id is not None:
        taken = taken.where(Site.id != site.id)
    if db.scalar(taken) is not None:
        raise StaffSetupError(f"A site called {name!r} already exists.")
    zone = check_timezone(timezone)
    site.name, site.timezone, site.default_language = name, zone, language
    site.contact, site.country = contact, country


def create_user(db: Session, email: str, password: str, role: str, sites: list[Site]) -> User:
    """Add a staff account attached to one or more sites."""
    try:
        email = text.EMAIL.clean(email).lower()
    except text.TextError as error:
        raise StaffSetupError(str(error)) from None
    if "@" not in email or any(c.isspace() for c in email):
        raise StaffSetupError(f"{email!r} is not an email address.")
    if role not in {r.value for r in Role}:
        raise StaffSetupError(
            f"{role[:32]!r} is not a role. Choose one of: {', '.join(r.value for r in Role)}."
        )
    if not sites:
        raise StaffSetupError("A staff account needs at least one site.")
    if user_by_email(db, email) is not None:
        raise StaffSetupError(f"An account for {email} already exists.")
    if problem := password_problem(password):
        raise StaffSetupError(f"The password is too weak: {problem}")
    user = User(email=email, password_hash=hash_password(password), role=Role(role), sites=sites)
    db.add(user)
    return user


def sites_left_without_admin(
    db: Session, user: User, role: Role, sites: list[Site], active: bool
) -> list[Site]:
    """The sites that would have no active administrator left if `user` became an account
    with this role, these sites and this state: such a change is refused, so that every
    site always has someone who can manage its staff."""
    if not (user.active and user.role == Role.ADMIN):
        return []  # not an administrator now: nothing to lose
    kept = {site.id for site in sites} if role == Role.ADMIN and active else set()
    losing = [site for site in user.sites if site.id not in kept]
    if not losing:
        return []
    # Two admins demoting each other at once must not both pass: the sites' rows are locked
    # (PostgreSQL) before their administrators are counted, so the second change counts
    # after the first has committed.
    db.execute(select(Site.id).where(Site.id.in_([site.id for site in losing])).with_for_update())
    others = set(
        db.scalars(
            select(site_memberships.c.site_id)
            .join(User, User.id == site_memberships.c.user_id)
            .where(
                site_memberships.c.site_id.in_([site.id for site in losing]),
                User.id != user.id,
                User.role == Role.ADMIN,
                User.active.is_(True),
            )
        )
    )
    return [site for site in losing if site.id not in others]


def change_staff(user: User, role: Role, sites: list[Site]) -> dict[str, list]:
    """Give the account this role and these sites; returns {field: [old, new]} of what
    changed (sites by name), for the audit trail. The caller checks who may do it and
    `sites_left_without_admin` first."""
    changed: dict[str, list] = {}
    if user.role != role:
        changed["role"] = [str(user.role), str(role)]
        user.role = role
    before, after = sorted(site.name for site in user.sites), sorted(site.name for site in sites)
    if before != after:
        changed["sites"] = [before, after]
        user.sites = sorted(sites, key=lambda site: site.name)
    return changed
