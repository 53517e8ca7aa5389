"""Checking a patient's answers against an instrument before anything is scored or stored."""

from __future__ import annotations

import re
from collections.abc import Mapping

from survey.instruments.definition import Instrument

# Form posts deliver text; accept plain ASCII digits only, so "3.0", " 3", "٣" or "+3"
# never slip through a lenient int() and get stored as something the patient did not pick.
# A few digits are plenty for any scale, and int() refuses over 4,300 of them with a bare
# ValueError, which must not escape as a server error.
_DIGITS = re.compile(r"[0-9]{1,9}")


class AnswersError(ValueError):
    """A set of answers that cannot be scored: items missing, keys unknown, values invalid."""

    def __init__(
        self,
        instrument_id: str,
        *,
        missing: tuple[str, ...] = (),
        unknown: tuple[str, ...] = (),
        invalid: dict[str, object] | None = None,
        allowed: tuple[int, ...] = (),
    ) -> None:
        self.instrument_id = instrument_id
        self.missing = missing
        self.unknown = unknown
        self.invalid = dict(invalid or {})
        self.allowed = allowed
        super().__init__(self._message())

    def _message(self) -> str:
        problems = []
        if self.missing:
            problems.append(f"missing answers for {', '.join(self.missing)}")
        if self.unknown:
            problems.append(
                f"answers for items not in the questionnaire: {', '.join(map(repr, self.unknown))}"
            )
        if self.invalid:
            shown = ", ".join(f"{item}={value!r}" for item, value in self.invalid.items())
            scale = f"{self.allowed[0]}-{self.allowed[-1]}" if self.allowed else "the scale"
            problems.append(f"invalid answers {shown} (each must be a whole number {scale})")
        return f"{self.instrument_id} answers cannot be scored: " + "; ".join(problems)


def validate_answers(instrument: Instrument, answers: Mapping[str, object]) -> dict[str, int]:
    """Return `answers` as item id -> int in item order, or raise AnswersError naming every problem.

    Every item must be answered (a partly answered questionnaire has no score),
    every key must be an item, and every value must be one of the option values,
    given as an int or as a string of digits from a form.
    """
    allowed = tuple(option.value for option in instrument.options)
    item_ids = [item.id for item in instrument.items]
    known = set(item_ids)

    missing = tuple(item_id for item_id in item_ids if item_id not in answers)
    unknown = tuple(key for key in answers if key not in known)
    invalid: dict[str, object] = {}
    clean: dict[str, int] = {}
    for item_id in item_ids:
        if item_id not in answers:
            continue
        value = _as_int(answers[item_id])
        if value is None or value not in allowed:
            invalid[item_id] = answers[item_id]
        else:
            clean[item_id] = value

    if missing or unknown or invalid:
        raise AnswersError(
            instrument.id, missing=missing, unknown=unknown, invalid=invalid, allowed=allowed
        )
    return clean


def _as_int(value: object) -> int | None:
    # bool is an int subclass: True would silently count as 1.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None
