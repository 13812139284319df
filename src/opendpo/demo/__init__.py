"""The demo estate: Connect IB's CRM, billing, email platform and website, full of people."""
