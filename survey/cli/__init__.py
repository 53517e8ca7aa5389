"""Command-line interface: `flask --app wsgi <group> <command>`."""

from flask import Flask


def init_app(app: Flask) -> None:
    from survey.cli import (
        benchmark,
        demo,
        instruments,
        outreach,
        patients,
        staff,
        translate,
        triage,
    )

    for command in (
        staff.sites,
        staff.users,
        patients.patients,
        patients.invite,
        instruments.instruments,
        demo.demo,
        translate.translate,
        outreach.outreach,
        benchmark.benchmark,
        triage.triage,
    ):
        app.cli.add_command(command)
