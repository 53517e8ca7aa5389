"""Staff pages under /clinic/: patient lists, results and exports for clinicians. The
blueprint is in blueprint.py; the view modules (views, analytics_views, export_views,
worklist_views) put their routes on it."""
