-- An import that changed a large share of a studio's clients analyses the table itself (jobs/runner.py) instead of
-- leaving the planner on statistics that have never seen those rows until autovacuum comes round. The app role may
-- analyse a table it does not own from PostgreSQL 17 on (the MAINTAIN privilege); on older servers the grant is
-- skipped with a notice, and the import's ANALYZE only logs a warning (autovacuum still does it later).
DO $$
BEGIN
    EXECUTE 'GRANT MAINTAIN ON clients TO wedsync_app';
EXCEPTION WHEN syntax_error OR undefined_object OR invalid_parameter_value OR feature_not_supported THEN
    RAISE NOTICE 'wedsync_app cannot be granted MAINTAIN on clients here (PostgreSQL 17+): imports will not analyse it';
END
$$;
