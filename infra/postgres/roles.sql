-- provreg PostgreSQL roles. Run as a superuser, in the provreg database, AFTER
-- `provreg init` (run as provreg_admin) has applied the migrations:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f infra/postgres/roles.sql
--
-- provreg_admin   owns the schema and runs migrations (Alembic). Nothing else.
-- provreg_writer  ingestion and re-scans: INSERT into the ledger, never UPDATE/DELETE it.
-- provreg_reader  the dashboard: read-only, except that it appends to audit_log (every search
--                 and asset view is recorded there; audit_log refuses UPDATE/DELETE/TRUNCATE
--                 by trigger, migration 0004). Point the dashboard at this role with
--                 PROVREG_DASHBOARD_DATABASE_URL. Dashboard users themselves are created with
--                 `provreg users add` by an operator connected as provreg_admin.
--
-- The ledger tables (signing_keys, verdicts, merkle_nodes, checkpoints) are also guarded by
-- a trigger (migration 0001) that refuses UPDATE, DELETE and TRUNCATE for every role, so
-- even the owner must deliberately disable it to alter history, and `provreg verify` then
-- names the first altered entry. Set passwords with ALTER ROLE ... PASSWORD afterwards.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provreg_admin') THEN
        CREATE ROLE provreg_admin LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provreg_writer') THEN
        CREATE ROLE provreg_writer LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'provreg_reader') THEN
        CREATE ROLE provreg_reader LOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO provreg_writer, provreg_reader;
GRANT ALL ON SCHEMA public TO provreg_admin;

-- Reader: SELECT everything, now and in future migrations.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO provreg_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE provreg_admin IN SCHEMA public
    GRANT SELECT ON TABLES TO provreg_reader;

-- Writer: read and insert everywhere; update only the non-ledger bookkeeping tables.
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO provreg_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO provreg_writer;
GRANT UPDATE ON assets, ingest_runs TO provreg_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE provreg_admin IN SCHEMA public
    GRANT SELECT, INSERT ON TABLES TO provreg_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE provreg_admin IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO provreg_writer;
REVOKE UPDATE, DELETE, TRUNCATE
    ON signing_keys, verdicts, merkle_nodes, checkpoints FROM provreg_writer, provreg_reader;

-- Dashboard (reader): its only write is appending to the audit log.
GRANT INSERT ON audit_log TO provreg_reader;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO provreg_reader;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM provreg_writer, provreg_reader;
