"""Data subject requests: intake, verification, deadlines, workflow."""
