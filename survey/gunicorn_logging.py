"""gunicorn's access log without private-link tokens (see gunicorn.conf.py)."""

from gunicorn.glogging import Logger

from survey.operations import redact


class RedactingLogger(Logger):
    """gunicorn's logger, with the request line, path and referrer redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
