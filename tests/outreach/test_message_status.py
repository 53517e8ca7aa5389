"""A message's status changes only through survey/outreach/message_status.py: every allowed
step leaves its event and timestamps, the set-based step keeps the same books as the one for a
loaded message, a step the table does not allow raises, and no other code assigns a status."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import bindparam, event, select

from survey.extensions import db
from survey.models import Message, MessageEvent, MessageStatus
from survey.outreach import message_status
from survey.outreach.message_status import (
    ALLOWED,
    FINAL,
    InvalidTransition,
    Step,
    transition,
)
from tests.fixtures.outreach import NOW, messages_of

AT = NOW + timedelta(minutes=5)
EARLIER = NOW - timedelta(hours=1)
PAIRS = [(before, to) for before, targets in ALLOWED.items() for to in sorted(targets)]
FORBIDDEN = [
    (before, to) for before in MessageStatus for to in MessageStatus if to not in ALLOWED[before]
]
BOOKS = ("status", "attempts", "claimed_at", "sent_at", "finished_at", "wait_reason")
BOOKS += ("error_code", "reason")
SURVEY = Path(__file__).resolve().parents[2] / "survey"


def in_state(message: Message, status: MessageStatus) -> Message:
    """Put a message in `status` as its life would have left it (a test may set it here)."""
    message.status = status
    message.attempts = 0 if status in (MessageStatus.PENDING, MessageStatus.CANCELLED) else 1
    message.claimed_at = message.sent_at = EARLIER if message.attempts else None
    message.finished_at = EARLIER if status in FINAL else None
    message.wait_reason = "quiet_hours" if status == MessageStatus.PENDING else None
    return message


@pytest.fixture
def two(enrolled):
    """Two messages of one patient, to be put in the same state and moved two ways."""
    patient = enrolled()
    first, second, *_ = messages_of(patient)
    return first, second


def expected(before: MessageStatus, to: MessageStatus, source: str) -> dict:
    books = {"status": to, "error_code": 30003, "reason": "why"}
    books["attempts"] = 2 if to == MessageStatus.SENDING else None
    if to == MessageStatus.SENDING:
        books["claimed_at"] = books["sent_at"] = AT
    if to == MessageStatus.PENDING or (
        to == MessageStatus.FAILED
        and before in (MessageStatus.SENDING, MessageStatus.REVIEW)
        and source != "provider"
    ):
        books["sent_at"] = None
    if to in FINAL:
        books["finished_at"] = AT
    elif before in FINAL:
        books["finished_at"] = None
    return books


@pytest.mark.parametrize("source", ["dispatcher", "provider"])
def test_every_allowed_step_records_its_event_and_timestamps_one_way_or_set_based(two, source):
    first, second = two
    checked = 0
    for before, to in PAIRS:
        for message in (first, second):
            in_state(message, before)
            message.attempts = 1 if to == MessageStatus.SENDING else message.attempts
        db.session.commit()
        events_before = db.session.scalar(select(db.func.count()).select_from(MessageEvent))
        transition(first, to, at=AT, reason="why", source=source, error_code=30003)
        moved = Step(to, where=Message.id == second.id, source=source).run(
            db.session, at=AT, reason="why", error_code=30003
        )
        db.session.commit()
        db.session.expire_all()
        assert moved == [second.id], (before, to)
        books = expected(before, to, source)
        for message in (first, second):
            for column, want in books.items():
                if column == "attempts" and want is None:
                    continue  # not the step's to change
                assert getattr(message, column) == want, (before, to, column, message.id)
            # What the step does not own is left as it was.
            if to not in FINAL and before not in FINAL:
                assert message.finished_at is None
            if to == MessageStatus.PENDING and before != MessageStatus.CANCELLED:
                assert message.wait_reason is None  # as it was: SENDING and REVIEW have none
            event = message.events[-1]
            assert (event.status, event.occurred_at, event.reason) == (to, AT, "why")
            assert (event.source, event.error_code) == (source, 30003)
        # Both ways leave exactly one event each, and the same books.
        events_after = db.session.scalar(select(db.func.count()).select_from(MessageEvent))
        assert events_after == events_before + 2, (before, to)
        assert [getattr(first, c) for c in BOOKS] == [getattr(second, c) for c in BOOKS], (
            before,
            to,
        )
        checked += 1
    assert checked == len(PAIRS) == sum(len(targets) for targets in ALLOWED.values())


def test_a_step_the_table_does_not_allow_raises_and_the_set_based_step_moves_nothing(two):
    first, second = two
    checked = 0
    for before, to in FORBIDDEN:
        in_state(first, before)
        in_state(second, before)
        db.session.commit()
        with pytest.raises(InvalidTransition):
            transition(first, to, at=AT)
        assert first.status == before
        assert Step(to, where=Message.id == second.id).run(db.session, at=AT) == []
        db.session.commit()
        db.session.expire_all()
        assert second.status == before
        checked += 1
    assert checked == len(FORBIDDEN) > 20


def test_a_set_based_step_moves_only_what_may_move_and_returns_the_ids(two):
    first, second = two
    in_state(first, MessageStatus.SENDING)
    in_state(second, MessageStatus.DELIVERED)  # final: a late "review" must not touch it
    db.session.commit()
    ids = (first.id, second.id)
    moved = message_status.move(
        db.session, MessageStatus.REVIEW, where=Message.id.in_(ids), at=AT, reason="lost"
    )
    db.session.commit()
    db.session.expire_all()
    assert moved == [first.id]
    assert (first.status, second.status) == (MessageStatus.REVIEW, MessageStatus.DELIVERED)
    assert second.events == []


def test_a_step_run_for_many_rows_moves_each_with_its_own_values_in_one_statement(enrolled):
    patients = [enrolled(f"P-{n}", phone=f"+3461234567{n}") for n in range(3)]
    messages = [messages_of(patient)[0] for patient in patients]
    for message in messages:
        in_state(message, MessageStatus.SENDING)
    messages[2].attempts = 2  # a later attempt: the row naming attempt 1 must not move it
    db.session.commit()
    step = Step(
        MessageStatus.QUEUED,
        where=(Message.id == bindparam("message_id")) & (Message.attempts == bindparam("attempt")),
        values=("provider_sid", "segments"),
    )
    rows = [
        {"message_id": m.id, "attempt": 1, "provider_sid": f"SM{n:032d}", "segments": n + 1}
        for n, m in enumerate(messages)
    ]
    statements = []
    listen = ("before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(db.engine, *listen)
    try:
        moved = step.run_many(db.session, rows, at=AT, reason="why")
    finally:
        event.remove(db.engine, *listen)
    db.session.commit()
    db.session.expire_all()
    assert sorted(moved) == sorted(m.id for m in messages[:2])
    for n, message in enumerate(messages[:2]):
        assert (message.status, message.provider_sid, message.segments) == (
            MessageStatus.QUEUED,
            f"SM{n:032d}",
            n + 1,
        )
        assert [(e.status, e.occurred_at, e.reason) for e in message.events] == [
            (MessageStatus.QUEUED, AT, "why")
        ]
    assert (messages[2].status, messages[2].provider_sid, messages[2].events) == (
        MessageStatus.SENDING,
        None,
        [],
    )
    if db.engine.dialect.name == "postgresql":
        assert len(statements) == 1  # the messages and their events, whatever their number
    else:  # one message at a time: the step, then its event
        assert len(statements) == 3 + 2


def test_a_step_may_set_only_what_it_learnt_not_the_status_or_its_books():
    with pytest.raises(ValueError, match="finished_at"):
        Step(MessageStatus.FAILED, where=Message.id == 1, values=("finished_at",))


# No status written elsewhere: the source, read as Python


def another_models_status(value: ast.AST | None) -> bool:
    """`InvitationStatus.CANCELLED`, `PatientStatus.PAUSED`, `TriageStatus.OPEN`, ..."""
    return (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id.endswith("Status")
        and value.value.id != "MessageStatus"
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def status_writes(source: str) -> list[int]:
    """Lines of `source` that may write a message's status: an assignment to `.status` of
    anything but another model's status (`InvitationStatus.X`, `TriageStatus.X`, ...),
    `setattr(..., "status", ...)`, or `status=` / `"status":` given a MessageStatus in an
    UPDATE's `.values(...)` or a new `Message(...)`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple):  # a, b = x, y: each target its own value
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else None
                    if values is None or len(values) != len(target.elts):
                        values = [node.value] * len(target.elts)
                    pairs = list(zip(target.elts, values, strict=True))
                for element, value in pairs:
                    named = isinstance(element, ast.Attribute) and element.attr == "status"
                    if named and not another_models_status(value):
                        lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
                name, owner = node.args[1], node.args[0]
                # "status" itself, or any column of something called a message.
                dynamic = not isinstance(name, ast.Constant) and "message" in ast.unparse(owner)
                if dynamic or (isinstance(name, ast.Constant) and name.value == "status"):
                    lines.append(node.lineno)
            # A statement's values, or a message made with a status (a backend's SendResult
            # may name one: it describes, it writes nothing).
            writes = (isinstance(func, ast.Attribute) and func.attr == "values") or (
                isinstance(func, ast.Name) and func.id == "Message"
            )
            if not writes:
                continue
            for keyword in node.keywords:
                if keyword.arg == "status" and "MessageStatus" in _names(keyword.value):
                    lines.append(node.lineno)
            for argument in node.args:
                if isinstance(argument, ast.Dict):
                    for key, value in zip(argument.keys, argument.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "status"
                            and "MessageStatus" in _names(value)
                        ):
                            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "snippet",
    [
        "message.status = MessageStatus.SENT",
        "message.status, message.reason = MessageStatus.FAILED, 'x'",
        "reminder.status = new",
        "setattr(message, 'status', MessageStatus.SENT)",
        "setattr(message, column, value)",
        "db.execute(update(Message).values(status=MessageStatus.CANCELLED))",
        "db.execute(update(Message).values({'status': MessageStatus.CANCELLED}))",
        "db.add(Message(patient_id=1, status=MessageStatus.QUEUED))",
    ],
)
def test_the_check_finds_a_status_written_by_hand(snippet):
    assert status_writes(snippet) == [1]


def test_the_check_lets_other_models_statuses_be_written():
    assert status_writes("invitation.status = InvitationStatus.CANCELLED") == []
    assert status_writes("patient.status = PatientStatus.PAUSED") == []
    assert status_writes("item.status, item.closed_at = TriageStatus.CLOSED, now") == []
    assert status_writes("SendResult(Outcome.ACCEPTED, status=MessageStatus.SENT)") == []


def test_no_code_outside_message_status_writes_a_message_status():
    owner = Path(message_status.__file__).resolve()
    files = [path for path in SURVEY.rglob("*.py") if path.resolve() != owner]
    found = {
        f"{path.relative_to(SURVEY.parent)}:{line}"
        for path in files
        for line in status_writes(path.read_text(encoding="utf-8"))
    }
    assert len(files) > 100  # the whole package was read
    assert found == set(), "write a message's status through survey.outreach.message_status"
    # ... while the owner itself does write it (the check would see it).
    assert status_writes(owner.read_text(encoding="utf-8"))
