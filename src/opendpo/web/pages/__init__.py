"""Server-rendered pages: the public privacy centre and the staff console."""
