"""Rate limits are declared on the views they guard (`@limited(...)`), not attached by name:
every guard defined is on a view of the app, and each of those views is wrapped by the limiter."""

from survey.security import limits

LIMITER_MARK = "__wrapper-limiter-instance"  # Flask-Limiter's mark on a view it wraps


def test_every_guard_is_declared_on_a_view_and_put_on_it(app):
    defined = {value for value in vars(limits).values() if isinstance(value, limits.Guard)}
    declared = {
        endpoint: getattr(view, "rate_limits", ()) for endpoint, view in app.view_functions.items()
    }
    declared = {endpoint: guards for endpoint, guards in declared.items() if guards}
    assert len(defined) == 9
    assert {guard for guards in declared.values() for guard in guards} == defined
    assert declared["auth.login"] == (limits.FAILED_SIGN_INS, limits.FAILED_SIGN_INS_TO_ACCOUNT)
    assert declared["outreach.inbound"] == (limits.WEBHOOKS, limits.REFUSED_WEBHOOKS)
    wrapped = {
        endpoint
        for endpoint, guards in declared.items()
        if not all(guard.across_blueprint for guard in guards)
    }
    assert wrapped == {
        "patient.open_link",
        "patient.tablet",
        "patient.tablet_code",
        "auth.set_password",
        "auth.login",
        "auth.login_code",
        "auth.password",
        "auth.two_factor",
    }
    for endpoint in wrapped:
        assert getattr(app.view_functions[endpoint], LIMITER_MARK, None) is not None, endpoint
