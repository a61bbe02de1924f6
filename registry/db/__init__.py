"""Database: engine and migrations, the ORM models of every table, retried transactions."""
