"""Data subjects and the identities (email, phone, customer id, cookie id) that name them."""
