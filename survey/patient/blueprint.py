"""The patient pages' blueprint, which the view modules of this package add routes to, with
what every patient request goes through."""

from flask import Blueprint

from survey.extensions import csrf
from survey.patient import context, fragments

bp = Blueprint("patient", __name__)
# Checked in begin_patient_request instead, once the patient's language is known.
csrf.exempt(bp)
bp.before_request(context.begin_patient_request)
bp.after_request(context.add_private_headers)
bp.context_processor(
    lambda: {"item_fieldsets": fragments.item_fieldsets, "contact_line": fragments.contact_line}
)
