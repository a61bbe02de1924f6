-- provreg PostgreSQL roles, by least privilege. Run as a superuser, in the provreg database,
-- AFTER `provreg init` (run as provreg_admin) has applied the migrations:
--
--   psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -f infra/postgres/roles.sql
--
-- provreg_admin     schema owner: runs migrations (Alembic). Nothing else day to day.
-- provreg_writer    ingestion and re-scans: INSERT into the ledger (never UPDATE/DELETE it),
--                   assets, sightings, runs and re-scan progress; takes the log sequencer.
--                   No access to users or the audit log; reads banks (copy detection).
-- provreg_reader    the dashboard (PROVREG_DASHBOARD_DATABASE_URL): reads the ledger and
--                   its facts; users without password hashes; appends to the audit log ONLY
--                   through provreg_audit(), which stamps the database role and the time;
--                   reads one password hash at a time through provreg_password_hash() to
--                   check a login. It cannot take the sequencer (no UPDATE on it).
-- provreg_banks     bank manager (`provreg bank ...`): banks and their references.
-- provreg_accounts  account admin (`provreg users ...`): dashboard users.
--
-- What each role may do is proved statement by statement by tests/registry/test_roles_matrix.py and
-- listed in docs/security.md (generated from that test). A table added by a migration gets
-- no privileges here until it is listed below AND in the test's matrix (the test fails on
-- any table it does not know), so nothing is granted by default.
--
-- The ledger tables (signing_keys, verdicts, merkle_nodes, checkpoints) and audit_log are
-- also guarded by triggers (migrations 0001, 0004) that refuse UPDATE, DELETE and TRUNCATE
-- for every role, the owner included. Set passwords with ALTER ROLE ... PASSWORD afterwards.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['provreg_admin', 'provreg_writer', 'provreg_reader',
                                'provreg_banks', 'provreg_accounts'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', name);
        END IF;
    END LOOP;
END
$$;

-- Start from nothing: earlier versions of this file granted far more.
REVOKE ALL ON ALL TABLES IN SCHEMA public
    FROM provreg_writer, provreg_reader, provreg_banks, provreg_accounts;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public
    FROM provreg_writer, provreg_reader, provreg_banks, provreg_accounts;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public
    FROM provreg_writer, provreg_reader, provreg_banks, provreg_accounts;
ALTER DEFAULT PRIVILEGES FOR ROLE provreg_admin IN SCHEMA public
    REVOKE ALL ON TABLES FROM provreg_writer, provreg_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE provreg_admin IN SCHEMA public
    REVOKE ALL ON SEQUENCES FROM provreg_writer;

GRANT USAGE ON SCHEMA public
    TO provreg_writer, provreg_reader, provreg_banks, provreg_accounts;
GRANT ALL ON SCHEMA public TO provreg_admin;
-- Every command checks the schema revision when it opens the registry.
GRANT SELECT ON alembic_version
    TO provreg_writer, provreg_reader, provreg_banks, provreg_accounts;

-- Writer: ingestion and re-scans.
GRANT SELECT, INSERT ON signing_keys, verdicts, merkle_nodes, checkpoints, sightings
    TO provreg_writer;
GRANT SELECT, INSERT, UPDATE ON assets, ingest_runs TO provreg_writer;
GRANT SELECT, INSERT ON rescan_progress TO provreg_writer;
GRANT SELECT ON banks, bank_references TO provreg_writer;
GRANT SELECT, UPDATE ON ledger_sequencer TO provreg_writer;
-- Model lineage (issue 19): ingest hands registered models and sealed weight keys to the
-- model.* detectors; only the owner registers or removes them (provreg lineage).
GRANT SELECT ON lineage_models, lineage_tensors, lineage_keys TO provreg_writer;
GRANT USAGE ON SEQUENCE checkpoints_id_seq, sightings_id_seq, ingest_runs_id_seq
    TO provreg_writer;
-- Generator enrolments and calibrations are versioned records: added, never edited.
GRANT SELECT, INSERT ON generator_enrolments, attribution_calibrations TO provreg_writer;
GRANT USAGE ON SEQUENCE generator_enrolments_id_seq, attribution_calibrations_id_seq
    TO provreg_writer;
GRANT SELECT ON generator_enrolments, attribution_calibrations TO provreg_reader;

-- Reader (dashboard): reads, plus the two functions.
GRANT SELECT ON signing_keys, verdicts, merkle_nodes, checkpoints, assets, sightings,
    ingest_runs, rescan_progress, banks, bank_references, audit_log TO provreg_reader;
GRANT SELECT (id, username, role, created_at) ON users TO provreg_reader;
GRANT EXECUTE ON FUNCTION provreg_audit(text, text, text, jsonb) TO provreg_reader;
GRANT EXECUTE ON FUNCTION provreg_password_hash(text) TO provreg_reader;

-- Bank manager: banks and references (references are removed by marking, never deleted).
GRANT SELECT, INSERT, UPDATE ON banks, bank_references TO provreg_banks;
GRANT USAGE ON SEQUENCE banks_id_seq, bank_references_id_seq TO provreg_banks;

-- Account admin: dashboard users (its actions are audited through provreg_audit too).
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO provreg_accounts;
GRANT USAGE ON SEQUENCE users_id_seq TO provreg_accounts;
GRANT EXECUTE ON FUNCTION provreg_audit(text, text, text, jsonb) TO provreg_accounts;

-- Media store and retroactive matching (docs/media.md, docs/detectors/copy.md): ingestion
-- records what it stored and hashed; retro-matching (run by bank managers' commands through
-- the writer) records its runs; the dashboard reads them.
GRANT SELECT, INSERT, UPDATE ON media_objects, archive_hashes, retro_runs TO provreg_writer;
GRANT USAGE ON SEQUENCE archive_hashes_id_seq, retro_runs_id_seq TO provreg_writer;
GRANT SELECT ON media_objects, archive_hashes, retro_runs TO provreg_reader;
