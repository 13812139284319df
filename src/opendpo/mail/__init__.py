"""Email OpenDPO sends: by SMTP, or into an outbox folder when no server is set (demo)."""
