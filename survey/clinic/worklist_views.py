"""The triage worklist pages: thin. What is listed and each step live in survey/domain/triage/."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from survey.auth import staff_required
from survey.clinic.blueprint import bp
from survey.domain import audit_trail
from survey.domain.triage import labels
from survey.domain.triage.contact import request_for
from survey.domain.triage.worklist import (
    NOTE_MAX,
    VIEWS,
    BadStep,
    WorklistConflict,
    close,
    item_for,
    open_counts,
    record_outcome,
    take,
    worklist,
)
from survey.extensions import db
from survey.instruments import INSTRUMENT_IDS
from survey.models import AuditEvent, TriageOutcome, utcnow
from survey.querystring import parse_whole_number
from survey.staff_areas import Area

VIEW_NAMES = {"open": _l("To act on"), "mine": _l("Mine"), "closed": _l("Closed items")}
CONFLICTS = {
    "taken": _l("Someone else took this item first. Nothing was changed."),
    "not yours": _l("Take this item first: only the person who has it records and closes it."),
    "closed": _l("This item is already closed. Nothing was changed."),
    "no outcome": _l("Record what was done before closing the item."),
}
BAD_STEPS = {
    "outcome": _l("Choose what was done from the list."),
    "note": _l(
        "The note can have at most %(max)d characters, and no control characters.", max=NOTE_MAX
    ),
    "assignee": _l("Something was wrong with that request. Please reload the page."),
}


@bp.context_processor
def triage_helpers() -> dict:
    return {"triage_labels": labels, "describe_finding": labels.describe}


@bp.route("/worklist")
@staff_required(Area.CLINICAL)
def worklist_index():
    """What needs action at the user's sites, red first, overdue first within a level."""
    now, ignored = utcnow(), []
    view = request.args.get("view", "open")
    if view not in VIEWS:
        view = "open"
        ignored.append(str(_("View")))
    site_id = None
    if raw_site := request.args.get("site", ""):
        if (wanted := parse_whole_number(raw_site)) in g.user.site_ids:
            site_id = wanted
        else:
            ignored.append(str(_("Site")))
    rows = worklist(db.session, g.user, view, now, site_id=site_id)
    audit_trail.log(
        "worklist.view",
        detail={"view": view, "site": site_id, "rows": len(rows)},
        site_id=site_id,
    )
    db.session.commit()
    return render_template(
        "clinic/worklist.html",
        rows=rows,
        counts=open_counts(db.session, g.user, now),
        view=view,
        views=VIEW_NAMES,
        site_id=site_id,
        ignored=ignored,
        now=now,
    )


@bp.route("/worklist/<int:item_id>")
@staff_required(Area.CLINICAL)
def worklist_item(item_id: int):
    """One item: the evidence and its sources, the patient's request, the steps so far."""
    item = item_for(db.session, g.user, item_id)
    if item is None:
        abort(404)
    return _item_page(item)


def _item_page(item, status: int = 200, note: str | None = None):
    history = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "triageitem",
            AuditEvent.subject_id == item.id,
            AuditEvent.action != "triage.view",  # the trail keeps views; the steps do not
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    contact = request_for(db.session, item.invitation_id)
    scores = sorted(
        item.invitation.responses, key=lambda response: INSTRUMENT_IDS.index(response.instrument_id)
    )
    audit_trail.log(
        "triage.view",
        subject=item,
        detail={"patient": item.patient_id, "contact_reason_shown": contact is not None},
    )
    db.session.commit()
    return render_template(
        "clinic/worklist_item.html",
        item=item,
        contact=contact,
        scores=scores,
        history=history,
        outcomes=list(TriageOutcome),
        note=(item.outcome_note or "") if note is None else note,
        note_max=NOTE_MAX,
        now=utcnow(),
    ), status


@bp.post("/worklist/<int:item_id>/<any(take, outcome, close):step>")
@staff_required(Area.CLINICAL)
def worklist_step(item_id: int, step: str):
    """Take the item, record its outcome, or close it; each step audited."""
    item = item_for(db.session, g.user, item_id, lock=True)
    if item is None:
        abort(404)
    now = utcnow()
    try:
        if step == "take":
            take(db.session, item, g.user, _seen_assignee(), now)
            flash(_("The item is yours now."))
        elif step == "outcome":
            record_outcome(
                db.session,
                item,
                g.user,
                request.form.get("outcome", ""),
                request.form.get("note", ""),
                now,
            )
            flash(_("What was done is recorded. Close the item when nothing more is needed."))
        else:
            close(db.session, item, g.user, now)
            flash(_("The item is closed."))
            return redirect(url_for("clinic.worklist_index"), code=303)
    except WorklistConflict as conflict:
        db.session.rollback()
        flash(str(CONFLICTS[conflict.kind]), "error")
        return _item_page(item_for(db.session, g.user, item_id), 409)
    except BadStep as bad:
        db.session.rollback()
        flash(str(BAD_STEPS[bad.kind]), "error")
        return _item_page(
            item_for(db.session, g.user, item_id), 400, note=request.form.get("note", "")
        )
    return redirect(url_for("clinic.worklist_item", item_id=item_id), code=303)


def _seen_assignee() -> int | None:
    """Who had the item when the page was shown: "" for nobody, else a user id."""
    raw = request.form.get("assignee", "")
    if raw == "":
        return None
    seen = parse_whole_number(raw, longest=12)
    if seen is None:
        raise BadStep("assignee")
    return seen
