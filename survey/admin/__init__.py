"""Administration pages under /clinic/admin/: the read-only audit log, the staff page and
each site's triage rules. The blueprint is in blueprint.py; the view modules (views, sites,
staff_page, triage) put their routes on it."""
