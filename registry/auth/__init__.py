"""Dashboard accounts, roles, login policy and the audit log."""
