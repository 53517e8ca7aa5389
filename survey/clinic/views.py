"""Staff views: thin; queries and access rules live in their own modules."""

from flask import abort, g, render_template
from sqlalchemy import select

from survey import audit
from survey.auth import staff_required
from survey.clinic import bp
from survey.clinic.access import patient_for, visible_patients
from survey.extensions import db
from survey.instruments import get_instrument
from survey.models import Patient, Response


@bp.route("/")
@staff_required()
def index():
    """The patients of the signed-in user's sites."""
    patients = db.session.scalars(visible_patients(g.user).order_by(Patient.reference).limit(200))
    return render_template("clinic/index.html", patients=list(patients))


@bp.route("/patients/<int:patient_id>")
@staff_required()
def patient(patient_id: int):
    """One patient's responses, newest first."""
    found = patient_for(db.session, g.user, patient_id)
    if found is None:
        abort(404)
    responses = db.session.scalars(
        select(Response)
        .where(Response.patient_id == found.id)
        .order_by(Response.submitted_at.desc())
    ).all()
    audit.log("patient.view", subject=found)
    db.session.commit()
    return render_template(
        "clinic/patient.html", patient=found, responses=responses, get_instrument=get_instrument
    )
