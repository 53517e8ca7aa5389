"""The FHIR R4 resources of the export (fhir.py streams them as a transaction Bundle): a
Questionnaire per wording shown, a Patient, a QuestionnaireResponse per completed
questionnaire, and Observations for its total and subscales, each built from the records as
a plain dict. See fhir.py for the codes, identifiers and profiles they carry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from survey.domain.languages import html_lang
from survey.instruments import SHORT_NAMES, Instrument
from survey.models import Response

PROVISIONAL = "provisional"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
# Structured Data Capture 3.0.0 (HL7 International, FHIR Infrastructure), the SDC release for
# FHIR R4: http://hl7.org/fhir/uv/sdc/STU3
SDC_QUESTIONNAIRE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire|3.0.0"
SDC_RESPONSE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse|3.0.0"


def _short(instrument_id: str) -> str:
    return SHORT_NAMES.get(instrument_id, instrument_id)


def instant(moment: datetime) -> str:
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


def answer_coding(system: str, value: int, label: str = "") -> dict:
    """An answer as a Coding: the score is the code and, for systems that compute with it,
    the ordinalValue extension."""
    coding = {
        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
        "system": system,
        "code": str(value),
    }
    if label:
        coding["display"] = label
    return coding


def full_url(base: str, *names: object) -> str:
    """A stable `urn:uuid:` for one record: the same record gets the same one in every export."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join([base, *map(str, names)])))


def patient_system(base: str, site_id: int) -> str:
    """The site's identifier system for its patient references."""
    return f"{base}/sites/{site_id}/patient-references"


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
        "meta": {
            "profile": [SDC_QUESTIONNAIRE],
            "tag": [_wording_tag(base, wording.wording_status)],
        },
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
                {"valueCoding": answer_coding(answers_system, option["value"], option["label"])}
                for option in texts["options"]
            ],
        }
        for item in instrument.items
    ]
    return resource


def patient(site_id: int, reference: str, base: str) -> dict:
    """The patient as the site knows them: its reference in its identifier system, nothing
    else (no name, no phone). The server finds or creates them by that identifier."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": patient_system(base, site_id), "value": reference}],
    }


def _subject(site_id: int, reference: str, base: str) -> dict:
    return {
        "reference": full_url(base, "Patient", site_id, reference),
        "identifier": {"system": patient_system(base, site_id), "value": reference},
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
        "meta": {
            "profile": [SDC_RESPONSE],
            "tag": [_wording_tag(base, response.wording_status)],
        },
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
        "authored": instant(response.submitted_at),
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
                    {"valueCoding": answer_coding(system, value, wording.option_label(value))}
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


def _observation(
    response: Response,
    site_id: int,
    reference: str,
    base: str,
    code: str,
    display: str,
    value: int,
) -> dict:
    """A score worked out from one QuestionnaireResponse, as SDC extraction gives it: category
    survey, derivedFrom the response, the same subject and time."""
    return {
        "resourceType": "Observation",
        "meta": {"tag": [_wording_tag(base, response.wording_status)]},
        "identifier": [{"system": f"{base}/observations", "value": f"{response.id}-{code}"}],
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}
        ],
        "code": {
            "coding": [
                {
                    "system": f"{base}/CodeSystem/instrument-totals",
                    "code": code,
                    "display": display,
                }
            ],
            "text": display,
        },
        "subject": _subject(site_id, reference, base),
        "effectiveDateTime": instant(response.submitted_at),
        "valueInteger": value,
        "derivedFrom": [{"reference": full_url(base, "QuestionnaireResponse", response.id)}],
    }


def _provisional_note(response: Response) -> list[str]:
    if response.wording_status != PROVISIONAL:
        return []
    return [
        "Answered with provisional wording (written by this service because the official "
        "wording is not public): not a validated score."
    ]


def total_observation(
    response: Response, site_id: int, reference: str, instrument: Instrument, base: str
) -> dict:
    """The total score as an Observation derived from its QuestionnaireResponse."""
    name = _short(instrument.id)
    observation = _observation(
        response,
        site_id,
        reference,
        base,
        f"{instrument.id}-total",
        f"{name} total score",
        response.total,
    )
    notes = _provisional_note(response)
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


def subscale_observations(
    response: Response, site_id: int, reference: str, instrument: Instrument, base: str
) -> list[dict]:
    """Each subscale sum the response has, as an Observation derived from it."""
    observations = []
    for subscale in instrument.subscales:
        value = (response.subscales or {}).get(subscale.id)
        if value is None:
            continue
        observation = _observation(
            response,
            site_id,
            reference,
            base,
            f"{instrument.id}-{subscale.id}",
            f"{_short(instrument.id)} {subscale.label('en').lower()} subscale",
            value,
        )
        notes = _provisional_note(response)
        items = ", ".join(subscale.item_ids)
        if subscale.provisional:
            notes.append(
                f"Sum of items {items} by the provisional item mapping the shipped definition "
                "declares, not a published subscale."
            )
        else:
            notes.append(f"Sum of items {items}.")
        observation["note"] = [{"text": text} for text in notes]
        observations.append(observation)
    return observations
