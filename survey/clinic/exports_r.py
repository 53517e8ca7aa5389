"""For R: one ZIP holding the long export with its labels, the data dictionary, and a script
that reads both with types, factor levels and column labels.

`answers.csv` is the long CSV plus `item_text` and `value_label` (the item and the answer as
the reader's language words them), plain UTF-8 without a byte-order mark, so
`read.csv(..., encoding = "UTF-8")` and readr read it as it is. The CSV is written row by row
into the archive (zipfile compresses as it goes) in a temporary file, so memory stays small
whatever the export's size; the file is then streamed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from survey.clinic import export_dictionary
from survey.clinic.export_columns import Column, long_columns
from survey.clinic.exports import ExportScope, long_rows, safe_cell
from survey.instruments import WORDING_STATUSES, Instrument

LABEL_COLUMNS = (
    Column("item_text", "text", _l("The item's text in the language of this file.")),
    Column("value_label", "text", _l("The answer's label in the language of this file.")),
)

READ_R = """# Reads the survey export into R: source("read.R") in the folder holding the files.
# Base R only. Each column's meaning becomes its "label" attribute (RStudio's View shows it).
answers <- read.csv("answers.csv", encoding = "UTF-8", na.strings = "",
                    stringsAsFactors = FALSE, check.names = FALSE)
dictionary <- read.csv("dictionary.csv", encoding = "UTF-8", na.strings = "",
                       stringsAsFactors = FALSE, check.names = FALSE)

# Formula guard: text a spreadsheet would run as a formula was written with a leading '.
unguard <- function(x) ifelse(grepl("^'[-=+@\\t\\r]", x), substring(x, 2), x)
for (name in c("patient_reference", "site", "timepoint")) {
  answers[[name]] <- unguard(answers[[name]])
}

answers$index_date <- as.Date(answers$index_date)
answers$submitted_at <- as.POSIXct(answers$submitted_at, format = "%Y-%m-%dT%H:%M:%OS",
                                   tz = "UTC")
answers$wording_status <- factor(answers$wording_status, levels = c(WORDING_STATUSES))
answers$instrument_id <- factor(answers$instrument_id)
answers$timepoint <- factor(answers$timepoint, levels = unique(answers$timepoint))

described <- dictionary[dictionary$export == "long", ]
for (i in seq_len(nrow(described))) {
  name <- described$column[i]
  if (name %in% names(answers)) attr(answers[[name]], "label") <- described$description[i]
}
attr(answers$item_text, "label") <- "ITEM_TEXT"
attr(answers$value_label, "label") <- "VALUE_LABEL"
"""


def read_r() -> str:
    levels = ", ".join(f'"{status}"' for status in WORDING_STATUSES)
    return (
        READ_R.replace("c(WORDING_STATUSES)", f"c({levels})")
        .replace("ITEM_TEXT", str(LABEL_COLUMNS[0].description))
        .replace("VALUE_LABEL", str(LABEL_COLUMNS[1].description))
    )


def columns() -> tuple[Column, ...]:
    return (*long_columns(), *LABEL_COLUMNS)


def rows(
    db: Session,
    scope: ExportScope,
    instruments: tuple[Instrument, ...],
    lang: str,
    mics: dict | None = None,
) -> Iterator[tuple]:
    """The long rows with the item's text and the answer's label in `lang`."""
    names = [column.name for column in long_columns()]
    at_instrument, at_item = names.index("instrument_id"), names.index("item_id")
    at_value = names.index("value")
    by_id = {instrument.id: instrument for instrument in instruments}
    for row in long_rows(db, scope, mics):
        instrument = by_id[row[at_instrument]]
        options = {option.value: option.label(lang) for option in instrument.options}
        item = instrument.item(row[at_item])
        yield (*row, item.text(lang), options.get(row[at_value], ""))


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(value) for value in values])
    return buffer.getvalue()


def write_zip(
    path: str,
    db: Session,
    scope: ExportScope,
    instruments: tuple[Instrument, ...],
    lang: str,
    tables: dict,
    mics: dict | None = None,
) -> int:
    """Write the archive at `path`; the number of answer rows written."""
    count = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("answers.csv", "w") as member:
            member.write(_csv_line(c.name for c in columns()).encode("utf-8"))
            for row in rows(db, scope, instruments, lang, mics):
                member.write(_csv_line(row).encode("utf-8"))
                count += 1
        dictionary = io.StringIO()
        writer = csv.writer(dictionary)
        writer.writerow(export_dictionary.CSV_HEADER)
        writer.writerows(export_dictionary.csv_rows(tables, instruments))
        for column in LABEL_COLUMNS:
            line = ["long", column.name, column.kind, "", str(column.description)]
            writer.writerow(line + [""] * (len(export_dictionary.CSV_HEADER) - len(line)))
        archive.writestr("dictionary.csv", dictionary.getvalue())
        archive.writestr("read.R", read_r())
    return count
