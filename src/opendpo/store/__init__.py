"""OpenDPO's own store: engine, sessions, migrations and shared column types."""
