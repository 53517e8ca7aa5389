"""FHIR R4 export: one Bundle (type collection) holding a Questionnaire per wording, a
QuestionnaireResponse per completed questionnaire and an Observation per total, streamed.

Each wording (an instrument's texts in one language, identified by its SHA-256) is its own
Questionnaire version, `{wording version}-{language}-{first 12 hex digits of the hash}`, with
the texts the patients were shown: every wording in use now and every wording an exported
response was given to. Each QuestionnaireResponse points at the version its patient answered
(`{base}/Questionnaire/{instrument}|{version}`), with item texts and answer labels as shown.
Answers given to provisional wording say so on the QuestionnaireResponse and the Observation
(a `meta.tag` and a note); the band is an Observation interpretation coded by its own code
system, and the band's source is in a note, never presented as the interpretation.

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
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.clinic.exports import BATCH, ExportScope
from survey.instruments import INSTRUMENT_IDS, Instrument, shown_text
from survey.languages import html_lang
from survey.models import Answer, Invitation, Patient, Response
from survey.wording import instruments_in_use, shown_wordings

PROVISIONAL = "provisional"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SHORT_NAMES = {"qolaf-q": "QoLAF-Q", "ccis": "CCIS"}


def _short(instrument_id: str) -> str:
    return SHORT_NAMES.get(instrument_id, instrument_id)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class WordingShown:
    """One wording as FHIR gives it: what is kept in `shown_wordings`, or in use now."""

    instrument_id: str
    language: str
    wording_hash: str
    wording_version: str
    wording_status: str
    texts: dict | None  # shown_text(); None when the texts are not on record
    note: str | None = None  # the wording's note, known for the wordings in use now

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.instrument_id, self.language, self.wording_hash)

    @property
    def version(self) -> str:
        """The Questionnaire version of this wording."""
        return questionnaire_version(self.wording_version, self.language, self.wording_hash)

    def option_label(self, value: int) -> str:
        if self.texts is None:
            return ""
        return next((o["label"] for o in self.texts["options"] if o["value"] == value), "")


def questionnaire_version(wording_version: str, language: str, wording_hash: str) -> str:
    """The Questionnaire version of one wording: its version, language and hash prefix."""
    return f"{wording_version}-{html_lang(language)}-{wording_hash[:12]}"


def questionnaire_id(instrument_id: str, language: str, wording_hash: str) -> str:
    """The Questionnaire resource id of one wording (FHIR ids: at most 64 of A-Z a-z 0-9 - .)."""
    # The language as a BCP 47 tag ("pt-BR"): an underscore is not allowed in an id.
    return f"{instrument_id}-{html_lang(language)}-{wording_hash[:16]}"


def _wording_tag(base: str, status: str) -> dict:
    return {"system": f"{base}/CodeSystem/wording-status", "code": status.replace(" ", "-")}


def questionnaire(instrument: Instrument, wording: WordingShown, base: str) -> dict:
    """One wording of the instrument as a FHIR Questionnaire, in the language it is in."""
    provisional = wording.wording_status == PROVISIONAL
    answers_system = f"{base}/CodeSystem/{instrument.id}-answers"
    description = (
        f"{instrument.citation} Wording: {wording.language}, {wording.wording_status}, "
        f"version {wording.wording_version}, SHA-256 {wording.wording_hash}."
    )
    if wording.note:
        description += f" {wording.note}"
    elif provisional:
        description += " PROVISIONAL: not the official wording; totals are not validated scores."
    resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument.id, wording.language, wording.wording_hash),
        "meta": {"tag": [_wording_tag(base, wording.wording_status)]},
        "url": f"{base}/Questionnaire/{instrument.id}",
        "version": wording.version,
        "name": _short(instrument.id).replace("-", "_"),
        # Provisional wording is not the published instrument: never "active" for research use.
        "status": "draft" if provisional else "active",
        "language": html_lang(wording.language),  # BCP 47: pt-BR
        "description": description,
    }
    if wording.texts is None:
        resource["status"] = "unknown"
        resource["title"] = _short(instrument.id)
        resource["description"] += " The texts of this wording are not on record."
        return resource
    texts = wording.texts
    resource["title"] = texts["title"]
    resource["item"] = [
        {
            "linkId": item.id,
            "prefix": str(item.number),
            "text": texts["items"][item.number - 1],
            "type": "choice",
            "required": True,
            "answerOption": [
                {
                    "valueCoding": {
                        "system": answers_system,
                        "code": str(option["value"]),
                        "display": option["label"],
                    }
                }
                for option in texts["options"]
            ],
        }
        for item in instrument.items
    ]
    return resource


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
    wording: WordingShown,
) -> dict:
    """One completed questionnaire, pointing at the wording its patient answered."""
    system = f"{base}/CodeSystem/{instrument.id}-answers"
    numbers = {item.id: item.number for item in instrument.items}
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{response.id}",
        "meta": {"tag": [_wording_tag(base, response.wording_status)]},
        "extension": [
            {
                "url": f"{base}/StructureDefinition/wording-hash",
                "valueString": response.wording_hash,
            },
            {
                "url": f"{base}/StructureDefinition/wording-version",
                "valueString": response.wording_version,
            },
            {"url": f"{base}/StructureDefinition/timepoint", "valueString": timepoint},
        ],
        "identifier": {"system": f"{base}/responses", "value": str(response.id)},
        "questionnaire": f"{base}/Questionnaire/{response.instrument_id}|{wording.version}",
        "status": "completed",
        "subject": _subject(site_id, reference, base),
        "authored": _instant(response.submitted_at),
        "language": html_lang(response.language),
        "item": [
            {
                "linkId": item_id,
                **(
                    {"text": wording.texts["items"][numbers[item_id] - 1]}
                    if wording.texts is not None and item_id in numbers
                    else {}
                ),
                "answer": [
                    {
                        "valueCoding": {
                            "system": system,
                            "code": str(value),
                            **(
                                {"display": label} if (label := wording.option_label(value)) else {}
                            ),
                        }
                    }
                ],
            }
            for item_id, value in answers
        ],
    }
    if response.wording_status == PROVISIONAL:
        resource["text"] = {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Answered with provisional '
            "wording: not a validated score.</div>",
        }
    return resource


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
    observation["meta"] = {"tag": [_wording_tag(base, response.wording_status)]}
    notes = []
    if response.wording_status == PROVISIONAL:
        notes.append(
            "Answered with provisional wording (written by this service because the official "
            "wording is not public): not a validated score."
        )
    band = next((b for b in instrument.bands if b.id == response.band), None)
    if band is not None:
        provisional = response.wording_status == PROVISIONAL
        observation["interpretation"] = [
            {
                "coding": [
                    {
                        "system": f"{base}/CodeSystem/{instrument.id}-bands",
                        "code": band.id,
                        "display": band.label("en"),
                    }
                ],
                "text": f"{band.label('en')} (provisional)" if provisional else band.label("en"),
            }
        ]
        notes.append(f"Band of the total as published: {instrument.bands_citation}")
    if notes:
        observation["note"] = [{"text": text} for text in notes]
    return observation


def wordings_for(db: Session, scope: ExportScope, instruments: dict) -> dict:
    """Every wording the bundle describes, by (instrument, language, hash), in instrument
    and language order: those in use now, and those the exported responses were given to."""
    found: dict[tuple[str, str, str], WordingShown] = {}
    for instrument_id, instrument in instruments.items():
        for lang in instrument.languages:
            current = WordingShown(
                instrument_id,
                lang,
                instrument.wording_hash(lang),
                instrument.wording_version(lang),
                instrument.wording_status(lang),
                shown_text(instrument, lang),
                instrument.wording_note(lang),
            )
            found[current.key] = current
    used = db.execute(
        select(
            Response.instrument_id,
            Response.language,
            Response.wording_hash,
            func.min(Response.wording_version),
            func.min(Response.wording_status),
        )
        .join(Patient, Patient.id == Response.patient_id)
        .where(Patient.site_id.in_(scope.site_ids), scope.within(Response.submitted_at))
        .group_by(Response.instrument_id, Response.language, Response.wording_hash)
    ).all()
    kept = shown_wordings(db, {(row[0], row[1], row[2]) for row in used})
    for instrument_id, lang, wording_hash, version, status in used:
        key = (instrument_id, lang, wording_hash)
        if key in found:
            continue
        shown = kept.get(key)
        found[key] = WordingShown(
            instrument_id,
            lang,
            wording_hash,
            shown.wording_version if shown else version,
            shown.wording_status if shown else status,
            dict(shown.texts) if shown else None,
        )
    order = {instrument_id: index for index, instrument_id in enumerate(INSTRUMENT_IDS)}
    return dict(
        sorted(
            found.items(),
            key=lambda item: (order.get(item[0][0], len(order)), item[0][1], item[1].version),
        )
    )


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
    instruments = dict(zip(INSTRUMENT_IDS, instruments_in_use(db, INSTRUMENT_IDS), strict=True))
    wordings = wordings_for(db, scope, instruments)
    for index, wording in enumerate(wordings.values()):
        resource = questionnaire(instruments[wording.instrument_id], wording, base)
        yield ("," if index else "") + _entry(resource, base)

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
        wording = wordings[(response.instrument_id, response.language, response.wording_hash)]
        yield "," + _entry(
            questionnaire_response(
                response, site_id, reference, timepoint, answers, instrument, base, wording
            ),
            base,
        )
        yield "," + _entry(total_observation(response, site_id, reference, instrument, base), base)
        counter[0] += 1
    yield "]}"
