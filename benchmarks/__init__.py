"""Scripts that print measured figures, and what they need from the app: the floor routes
(floor.py) and the `benchmark seed` command (cli.py, seeding.py). None of it is in the installed
package; wsgi.py adds it to the app from a checkout."""
