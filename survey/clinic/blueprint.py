"""The clinicians' pages' blueprint, which the view modules of this package add routes to,
and the settings it checks when it is registered."""

from flask import Blueprint

from survey.config import ConfigurationError

# The clinic's own stylesheet (charts, list, print layout) is served at /clinic/static/.
bp = Blueprint("clinic", __name__, url_prefix="/clinic", static_folder="static")

# Whole-number settings of the clinic pages and the least each may be.
SETTINGS_AT_LEAST = {
    "CCIS_MEANINGFUL_CHANGE": 1,
    "OVERDUE_GRACE_DAYS": 0,
    "CLINIC_PAGE_SIZE": 1,
    "AUDIT_PAGE_SIZE": 1,
    "EXPORT_STATS_MAX_ROWS": 1,
}


@bp.record_once
def check_settings(state) -> None:
    """Refuse to start with a clinic setting that would break pages later."""
    config = state.app.config
    for name, least in SETTINGS_AT_LEAST.items():
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigurationError(f"SURVEY_{name} must be a whole number of at least {least}.")
    if not str(config.get("FHIR_BASE_URL", "")).startswith(("https://", "http://")):
        raise ConfigurationError("SURVEY_FHIR_BASE_URL must be an http(s) URL.")
