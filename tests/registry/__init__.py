"""Tests of the registry: database, ledger, intake, banks, auth, queries, CLI."""
