"""Patient pages: a private link from an SMS opens the invitation's questionnaires, one per page,
in the patient's language; answers are saved as the patient goes and submitted once."""

from flask import Blueprint

from survey.extensions import csrf
from survey.patient import context, fragments

bp = Blueprint("patient", __name__)
# Checked in begin_patient_request instead, once the patient's language is known.
csrf.exempt(bp)
bp.before_request(context.begin_patient_request)
bp.after_request(context.add_private_headers)
bp.context_processor(
    lambda: {"item_fieldset": fragments.item_fieldset, "contact_line": fragments.contact_line}
)

from survey.patient import tablet, views  # noqa: E402,F401  (registers the routes on bp)
