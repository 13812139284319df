"""Consent: the append-only ledger, current preferences derived from it, and suppression."""
