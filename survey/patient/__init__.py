"""Patient pages: a private link from an SMS opens the invitation's questionnaires, one per page,
in the patient's language; answers are saved as the patient goes and submitted once.
The blueprint is in blueprint.py; the view modules (views, tablet) put their routes on it."""
