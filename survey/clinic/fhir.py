"""FHIR R4 (4.0.1) export: one `transaction` Bundle an EHR's FHIR server can process as it
is, streamed: a Questionnaire per wording, a Patient per patient, a QuestionnaireResponse per
completed questionnaire, and Observations for its total and subscales.

Every entry is a conditional create (`request.ifNoneExist`), so posting the same export twice
creates nothing new: the Patient by its identifier in the site's identifier system, the
Questionnaire by canonical URL and version, responses and observations by their identifiers.
Entries reference each other by `urn:uuid:` fullUrls, which the server rewrites to the ids
it assigns (or finds); the uuids are derived from the base URL and the record, so two exports
of the same record name it the same. Answers are `valueCoding`s carrying the score as the
`ordinalValue` extension; Questionnaire and QuestionnaireResponse claim the published SDC
profiles (Structured Data Capture 3.0.0, the release for FHIR R4). The Observations claim no
profile: no published international profile fits a local PRO score code.

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
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.clinic.exports import BATCH, ExportScope

# The resources live in fhir_resources.py; the constants stay importable from here too.
from survey.clinic.fhir_resources import (  # noqa: F401
    ORDINAL_VALUE,
    SDC_QUESTIONNAIRE,
    SDC_RESPONSE,
    WordingShown,
    full_url,
    instant,
    patient,
    questionnaire,
    questionnaire_response,
    subscale_observations,
    total_observation,
)
from survey.domain.wording_in_use import instruments_in_use, shown_wordings
from survey.instruments import INSTRUMENT_IDS, fingerprint, shown_text
from survey.models import Answer, Invitation, Patient, Response


def wordings_for(db: Session, scope: ExportScope, instruments: dict) -> dict:
    """Every wording the bundle describes, by (instrument, language, hash), in instrument
    and language order: those in use now, and those the exported responses were given to."""
    found: dict[tuple[str, str, str], WordingShown] = {}
    for instrument_id, instrument in instruments.items():
        for lang in instrument.languages:
            current = WordingShown(
                instrument_id,
                lang,
                fingerprint.wording_hash(instrument, lang),
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


def _query(params: dict) -> str:
    return urlencode(params)


def _entry(resource: dict, url: str, if_none_exist: str) -> str:
    """One transaction entry: create the resource unless the server holds a match."""
    return json.dumps(
        {
            "fullUrl": url,
            "resource": resource,
            "request": {
                "method": "POST",
                "url": resource["resourceType"],
                "ifNoneExist": if_none_exist,
            },
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def search_escape(value: str) -> str:
    """A value as a FHIR search parameter holds it: `\\`, `|`, `,` and `$` escaped with `\\`."""
    for character in ("\\", "|", ",", "$"):
        value = value.replace(character, "\\" + character)
    return value


def _by_identifier(resource: dict) -> str:
    identifier = resource["identifier"]
    first = identifier[0] if isinstance(identifier, list) else identifier
    system, value = search_escape(first["system"]), search_escape(first["value"])
    return _query({"identifier": f"{system}|{value}"})


def bundle_chunks(
    db: Session, scope: ExportScope, base: str, now: datetime, counter: list[int]
) -> Iterator[str]:
    """The transaction Bundle as JSON text in pieces; counter[0] ends as the number of
    responses."""
    yield (
        json.dumps({"resourceType": "Bundle", "type": "transaction", "timestamp": instant(now)})[
            :-1
        ]
        + ',"entry":['
    )
    instruments = dict(zip(INSTRUMENT_IDS, instruments_in_use(db, INSTRUMENT_IDS), strict=True))
    wordings = wordings_for(db, scope, instruments)
    for index, wording in enumerate(wordings.values()):
        resource = questionnaire(instruments[wording.instrument_id], wording, base)
        yield ("," if index else "") + _entry(
            resource,
            full_url(base, "Questionnaire", resource["url"], resource["version"]),
            _query({"url": resource["url"], "version": resource["version"]}),
        )

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
    last_patient = None
    for _, group in itertools.groupby(rows, key=lambda row: row[0].id):
        group = list(group)
        response, site_id, reference, timepoint = group[0][:4]
        if (site_id, reference) != last_patient:  # rows come patient by patient
            last_patient = (site_id, reference)
            resource = patient(site_id, reference, base)
            yield "," + _entry(
                resource, full_url(base, "Patient", site_id, reference), _by_identifier(resource)
            )
        instrument = instruments[response.instrument_id]
        answers = [(row[4], row[5]) for row in group]
        wording = wordings[(response.instrument_id, response.language, response.wording_hash)]
        resource = questionnaire_response(
            response, site_id, reference, timepoint, answers, instrument, base, wording
        )
        yield "," + _entry(
            resource,
            full_url(base, "QuestionnaireResponse", response.id),
            _by_identifier(resource),
        )
        for observation in (
            total_observation(response, site_id, reference, instrument, base),
            *subscale_observations(response, site_id, reference, instrument, base),
        ):
            code = observation["identifier"][0]["value"]
            yield "," + _entry(
                observation, full_url(base, "Observation", code), _by_identifier(observation)
            )
        counter[0] += 1
    yield "]}"
