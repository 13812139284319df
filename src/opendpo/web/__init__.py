"""The web shell: the public privacy centre, the staff console and the HTTP API."""
