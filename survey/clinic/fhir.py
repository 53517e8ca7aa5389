"""FHIR R4 export: one Bundle (type collection) holding a Questionnaire per instrument, a
QuestionnaireResponse per completed questionnaire and an Observation per total, streamed.

Local code systems live under the configurable `FHIR_BASE_URL` (default
https://survey.invalid/fhir, a reserved domain that resolves nowhere): answers are coded in
`{base}/CodeSystem/{instrument}-answers`, totals in `{base}/CodeSystem/instrument-totals`,
bands in `{base}/CodeSystem/{instrument}-bands`. The patient is identified by the site's
reference only, as an identifier (`{base}/sites/{site id}/patient-references`); no phone number
leaves the service.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.clinic.exports import BATCH, ExportScope
from survey.instruments import INSTRUMENT_IDS, Instrument
from survey.models import Answer, Invitation, Patient, Response
from survey.wording import instrument_in_use

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SHORT_NAMES = {"qolaf-q": "QoLAF-Q", "ccis": "CCIS"}


def _short(instrument_id: str) -> str:
    return SHORT_NAMES.get(instrument_id, instrument_id)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _translations(texts: dict[str, str], primary: str) -> dict:
    """The FHIR translation extension for every language but the primary one."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": lang},
                    {"url": "content", "valueString": text},
                ],
            }
            for lang, text in texts.items()
            if lang != primary
        ]
    }


def questionnaire(instrument: Instrument, base: str) -> dict:
    """The instrument as a FHIR Questionnaire, from its definition (`to_dict()`)."""
    definition = instrument.to_dict()
    provisional = any(w["status"] == "provisional" for w in definition["wording"].values())
    notes = " ".join(
        f"[{lang}] {w['status']}: {w['note']}" for lang, w in definition["wording"].items()
    )
    answers_system = f"{base}/CodeSystem/{instrument.id}-answers"
    return {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "url": f"{base}/Questionnaire/{instrument.id}",
        "version": instrument.version,
        "name": _short(instrument.id).replace("-", "_"),
        "title": definition["title"]["en"],
        "_title": _translations(definition["title"], "en"),
        # Provisional wording is not the published instrument: never "active" for research use.
        "status": "draft" if provisional else "active",
        "language": "en",
        "description": f"{instrument.citation} Wording: {notes}",
        "item": [
            {
                "linkId": item["id"],
                "prefix": str(number),
                "text": item["text"]["en"],
                "_text": _translations(item["text"], "en"),
                "type": "choice",
                "required": True,
                "answerOption": [
                    {
                        "valueCoding": {
                            "system": answers_system,
                            "code": str(option["value"]),
                            "display": option["label"]["en"],
                        }
                    }
                    for option in definition["options"]
                ],
            }
            for number, item in enumerate(definition["items"], start=1)
        ],
    }


def _subject(site_id: int, reference: str, base: str) -> dict:
    return {
        "identifier": {"system": f"{base}/sites/{site_id}/patient-references", "value": reference},
        "display": reference,
    }


def questionnaire_response(
    response: Response,
    site_id: int,
    reference: str,
    timepoint: str,
    answers: list[tuple[str, int]],
    instrument: Instrument,
    base: str,
) -> dict:
    """One completed questionnaire, with the wording the patient saw recorded."""
    labels = {option.value: option for option in instrument.options}
    system = f"{base}/CodeSystem/{instrument.id}-answers"
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{response.id}",
        "meta": {
            "tag": [
                {
                    "system": f"{base}/CodeSystem/wording-status",
                    "code": response.wording_status.replace(" ", "-"),
                }
            ]
        },
        "extension": [
            {
                "url": f"{base}/StructureDefinition/wording-hash",
                "valueString": response.wording_hash,
            },
            {"url": f"{base}/StructureDefinition/timepoint", "valueString": timepoint},
        ],
        "identifier": {"system": f"{base}/responses", "value": str(response.id)},
        "questionnaire": (
            f"{base}/Questionnaire/{response.instrument_id}|{response.instrument_version}"
        ),
        "status": "completed",
        "subject": _subject(site_id, reference, base),
        "authored": _instant(response.submitted_at),
        "language": response.language,
        "item": [
            {
                "linkId": item_id,
                "answer": [
                    {
                        "valueCoding": {
                            "system": system,
                            "code": str(value),
                            "display": _label(labels.get(value), response.language),
                        }
                    }
                ],
            }
            for item_id, value in answers
        ],
    }


def _label(option, lang: str) -> str:
    if option is None:
        return ""
    try:
        return option.label(lang)
    except KeyError:
        return option.label("en")


def total_observation(
    response: Response, site_id: int, reference: str, instrument: Instrument, base: str
) -> dict:
    """The total score as an Observation derived from its QuestionnaireResponse."""
    name = _short(instrument.id)
    observation = {
        "resourceType": "Observation",
        "id": f"obs-{response.id}-total",
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "code": {
            "coding": [
                {
                    "system": f"{base}/CodeSystem/instrument-totals",
                    "code": f"{instrument.id}-total",
                    "display": f"{name} total score",
                }
            ],
            "text": f"{name} total score",
        },
        "subject": _subject(site_id, reference, base),
        "effectiveDateTime": _instant(response.submitted_at),
        "valueInteger": response.total,
        "derivedFrom": [{"reference": f"QuestionnaireResponse/qr-{response.id}"}],
    }
    band = next((b for b in instrument.bands if b.id == response.band), None)
    if band is not None:
        observation["interpretation"] = [
            {
                "coding": [
                    {
                        "system": f"{base}/CodeSystem/{instrument.id}-bands",
                        "code": band.id,
                        "display": band.label("en"),
                    }
                ],
                "text": instrument.bands_citation or band.label("en"),
            }
        ]
    if response.wording_status == "provisional":
        observation["note"] = [
            {"text": "Answered with provisional wording: not a validated score."}
        ]
    return observation


def _entry(resource: dict, base: str) -> str:
    full_url = f"{base}/{resource['resourceType']}/{resource['id']}"
    return json.dumps(
        {"fullUrl": full_url, "resource": resource}, ensure_ascii=False, separators=(",", ":")
    )


def bundle_chunks(
    db: Session, scope: ExportScope, base: str, now: datetime, counter: list[int]
) -> Iterator[str]:
    """The Bundle as JSON text in pieces; counter[0] ends as the number of responses."""
    yield (
        json.dumps({"resourceType": "Bundle", "type": "collection", "timestamp": _instant(now)})[
            :-1
        ]
        + ',"entry":['
    )
    instruments = {}
    for index, instrument_id in enumerate(INSTRUMENT_IDS):
        instruments[instrument_id] = instrument_in_use(db, instrument_id)
        yield ("," if index else "") + _entry(questionnaire(instruments[instrument_id], base), base)

    query = (
        select(
            Response,
            Patient.site_id,
            Patient.reference,
            Invitation.timepoint,
            Answer.item_id,
            Answer.value,
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Patient, Patient.id == Response.patient_id)
        .where(Patient.site_id.in_(scope.site_ids), scope.within(Response.submitted_at))
        .order_by(
            Patient.site_id, Patient.reference, Response.submitted_at, Response.id, Answer.position
        )
    )
    rows = db.execute(query.execution_options(yield_per=BATCH))
    for _, group in itertools.groupby(rows, key=lambda row: row[0].id):
        group = list(group)
        response, site_id, reference, timepoint = group[0][:4]
        instrument = instruments[response.instrument_id]
        answers = [(row[4], row[5]) for row in group]
        yield "," + _entry(
            questionnaire_response(
                response, site_id, reference, timepoint, answers, instrument, base
            ),
            base,
        )
        yield "," + _entry(total_observation(response, site_id, reference, instrument, base), base)
        counter[0] += 1
    yield "]}"
