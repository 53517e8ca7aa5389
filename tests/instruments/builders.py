"""Builders for instrument tests: answer sets that reach a total, wording-import files."""

import json

from survey.instruments.definition_file import definition_dict


def answers_totalling(instrument, total):
    """A complete, valid answer set for `instrument` whose answers add up to `total`."""
    low, high = instrument.options[0].value, instrument.options[-1].value
    assert instrument.min_total <= total <= instrument.max_total
    answers, extra = {}, total - instrument.min_total
    for item in instrument.items:
        step = min(extra, high - low)
        answers[item.id] = low + step
        extra -= step
    return answers


def wording_file(instrument, languages, reword=lambda text: text):
    """A wording-import file for `instrument`: only `languages`, each text run through `reword`."""
    full = definition_dict(instrument)

    def only(texts):
        return {lang: reword(texts[lang]) for lang in languages}

    recall = full["recall_period"]
    return {
        "id": instrument.id,
        "languages": list(languages),
        "wording": {
            lang: {"status": "validated", "note": f"Official {lang} wording, licensed."}
            for lang in languages
        },
        "title": only(full["title"]),
        "instructions": only(full["instructions"]),
        "recall_period": None if recall is None else only(recall),
        "options": [{"value": o["value"], "label": only(o["label"])} for o in full["options"]],
        "items": [{"id": i["id"], "text": only(i["text"])} for i in full["items"]],
    }


def write_json(path, data):
    """Write `data` as a UTF-8 JSON file and return the path."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
