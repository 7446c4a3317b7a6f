-- One rule for "may already be here", used by the import preview and by the import itself (jobs/upsert.py,
-- webapp/import_preview.py) so they agree: the same email, or the same first and last name of one of the couple on
-- the same wedding date. A shared surname and date is not enough (two different couples, or siblings, can share
-- both), and two different first names are never the same person. Names compare without case or accents
-- (fold_accents, migrations/0018). The queries find
-- candidates through the email and wedding-date indexes; this function decides.
CREATE FUNCTION duplicate_reason(
    o clients, email text, first_name text, last_name text, wedding date
) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN email IS NOT NULL AND email IN (o.partner1_email, o.partner2_email) THEN 'same email'
        WHEN wedding IS NOT NULL AND o.wedding_date = wedding AND first_name <> '' AND last_name <> ''
             AND (lower(fold_accents(o.partner1_first || ' ' || o.partner1_last))
                      = lower(fold_accents(first_name || ' ' || last_name))
                  OR lower(fold_accents(o.partner2_first || ' ' || o.partner2_last))
                      = lower(fold_accents(first_name || ' ' || last_name)))
            THEN 'same name and wedding date'
    END
$$;
GRANT EXECUTE ON FUNCTION duplicate_reason(clients, text, text, text, date) TO wedsync_app;
