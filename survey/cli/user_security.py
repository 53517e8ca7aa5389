"""Account security commands, added to the `users` group (survey/cli/__init__.py): require or
reset a second factor, disable or enable an account, set a password, end sessions. Each is
audited."""

import sys

import click
from flask.cli import with_appcontext

from survey.domain import account_changes, audit_trail
from survey.domain.staff_sessions import end_all_sessions
from survey.extensions import db
from survey.models import User, user_by_email, utcnow
from survey.passwords import hash_password, password_problem

BY_COMMAND = {"by": "command line"}


def find_user(email: str) -> User:
    user = user_by_email(db.session, email)
    if user is None:
        raise click.ClickException(f"There is no account for {email.strip()[:254]!r}.")
    return user


def record(action: str, user: User, **detail) -> None:
    audit_trail.record(db.session, action, subject=user, detail={**BY_COMMAND, **detail})


def commit(change: account_changes.AccountChange, user: User) -> None:
    record(change.action, user, **change.detail)
    db.session.commit()


@click.command("require-2fa")
@click.argument("email")
@click.option("--off", is_flag=True, help="No longer require it (the factor stays if set up).")
@with_appcontext
def require_2fa(email, off):
    """Require (or stop requiring) a second factor for EMAIL at sign-in."""
    user = find_user(email)
    commit(account_changes.require_second_factor(user, required=not off), user)
    if off:
        click.echo(f"{user.email} no longer needs a second factor.")
    elif user.totp_secret:
        click.echo(f"{user.email} must use their second factor (already set up).")
    else:
        click.echo(f"{user.email} must set up a second factor at their next page view.")


@click.command("reset-2fa")
@click.argument("email")
@with_appcontext
def reset_2fa(email):
    """Remove EMAIL's second factor (a lost phone) and sign them out everywhere."""
    user = find_user(email)
    change = account_changes.reset_second_factor(db.session, user)
    commit(change, user)
    ended = change.detail["sessions_ended"]
    click.echo(f"Removed the second factor of {user.email}; ended {ended} session(s).")


@click.command("disable")
@click.argument("email")
@with_appcontext
def disable(email):
    """Disable EMAIL's account and end its sessions at once."""
    user = find_user(email)
    change = account_changes.disable(db.session, user)
    commit(change, user)
    click.echo(f"Disabled {user.email}; ended {change.detail['sessions_ended']} session(s).")


@click.command("enable")
@click.argument("email")
@with_appcontext
def enable(email):
    """Enable EMAIL's account again."""
    user = find_user(email)
    commit(account_changes.enable(user), user)
    click.echo(f"Enabled {user.email}.")


@click.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def set_password(email, password_stdin):
    """Set EMAIL's password (asked for, or read from stdin) and end the account's sessions."""
    user = find_user(email)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if problem := password_problem(password):
        raise click.ClickException(f"The password is too weak: {problem}")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    ended = end_all_sessions(db.session, user, "password changed")
    record("password.changed", user, sessions_ended=ended)
    db.session.commit()
    click.echo(f"Set the password of {user.email}; ended {ended} session(s).")


@click.command("end-sessions")
@click.argument("email")
@with_appcontext
def end_sessions(email):
    """Sign EMAIL out of every browser."""
    user = find_user(email)
    change = account_changes.end_sessions(db.session, user)
    commit(change, user)
    click.echo(f"Ended {change.detail['sessions']} session(s) of {user.email}.")


COMMANDS = (require_2fa, reset_2fa, disable, enable, set_password, end_sessions)
