"""A change flag in words for the clinician who reads it (`describe`), the answers it was
measured against as a phrase, and where its threshold or band comes from (`citation`).
Raising flags is `flags.py`'s; this module only words them.
"""

from survey.clinic.flags import (
    BAND_BETTER,
    BAND_WORSE,
    CCIS_IMPROVED,
    CCIS_WORSENED,
    Flag,
)
from survey.i18n import gettext as _
from survey.i18n import pgettext
from survey.instruments import CCIS, QOLAF, get_instrument
from survey.instruments.change import Reference


def _mic_citation() -> str:
    mic = get_instrument(CCIS).minimal_important_change
    return mic.citation if mic else ""


# The CCIS MIC's source, for pages that quote it; the paper, from the CCIS definition.
MEANINGFUL_CHANGE_CITATION = _mic_citation()


def reference_text(reference: str) -> str:
    """The answers a change was measured against, as a phrase: "the previous answers"."""
    # Only the one asked for is translated (the list words one on many of its rows); each a
    # literal call, so that the catalogs' extraction finds it.
    reference = Reference(reference)
    if reference == Reference.BASELINE:
        return pgettext("compared against", "baseline")
    if reference == Reference.PREVIOUS:
        return pgettext("compared against", "the previous answers")
    return pgettext("compared against", "the best so far")


def describe(flag: Flag, lang: str) -> str:
    """The flag in a sentence, in the reader's language."""
    against = reference_text(flag.reference)
    also = ""
    if len(flag.references) > 1:
        also = " " + _(
            "Also against: %(others)s.",
            others=", ".join(reference_text(r) for r in flag.references[1:]),
        )
    if flag.kind in (CCIS_IMPROVED, CCIS_WORSENED):
        names = {
            "start": flag.start,
            "end": flag.end,
            "threshold": flag.threshold,
            "against": against,
        }
        if flag.kind == CCIS_IMPROVED:
            text = _(
                "CCIS improved by %(points)d points against %(against)s (%(start)d to "
                "%(end)d), at least the %(threshold)d-point minimal important change.",
                points=flag.start - flag.end,
                **names,
            )
        elif flag.extrapolated:
            text = _(
                "CCIS worsened by %(points)d points against %(against)s (%(start)d to "
                "%(end)d), at least %(threshold)d points: the minimal important change for "
                "improvement, extrapolated to worsening.",
                points=flag.end - flag.start,
                **names,
            )
        else:
            text = _(
                "CCIS worsened by %(points)d points against %(against)s (%(start)d to "
                "%(end)d), at least the %(threshold)d-point minimal important change.",
                points=flag.end - flag.start,
                **names,
            )
        return text + also
    if flag.kind in (BAND_BETTER, BAND_WORSE):
        qolaf = get_instrument(QOLAF)
        labels = {band.id: band.label(lang) for band in qolaf.bands}
        names = {
            "start": flag.start,
            "end": flag.end,
            "from_band": labels.get(flag.from_band, flag.from_band),
            "to_band": labels.get(flag.to_band, flag.to_band),
            "against": against,
        }
        if flag.kind == BAND_BETTER:
            text = _(
                "QoLAF-Q moved to a better band than %(against)s: %(from_band)s (%(start)d) "
                "to %(to_band)s (%(end)d).",
                **names,
            )
        else:
            text = _(
                "QoLAF-Q moved to a worse band than %(against)s: %(from_band)s (%(start)d) "
                "to %(to_band)s (%(end)d).",
                **names,
            )
        return text + also
    text = _(
        "Quality of life better but continence worse: QoLAF-Q better than at %(against)s "
        "while CCIS rose %(points)d points (%(start)d to %(end)d).",
        against=against,
        points=flag.end - flag.start,
        start=flag.start,
        end=flag.end,
    )
    if flag.extrapolated:
        text += " " + _(
            "The %(threshold)d-point threshold for worsening is extrapolated from the minimal "
            "important change for improvement.",
            threshold=flag.threshold,
        )
    return text + also


def citation(flag: Flag) -> str:
    """Where the threshold or band behind a flag comes from."""
    if flag.kind in (BAND_BETTER, BAND_WORSE):
        return get_instrument(QOLAF).bands_citation or ""
    return MEANINGFUL_CHANGE_CITATION
