-- A job's rows to fix are shown grouped by what went wrong ("12 phone numbers couldn't be read", "2 rows couldn't
-- be imported"), each group counted and paged on its own. The kind is derived from what every row already stores
-- (its severity and the field it concerns), so old jobs group the same way as new ones, and an index per kind keeps
-- a group's count and its next page cheap on a file with 100,000 bad rows.
ALTER TABLE sync_job_errors ADD COLUMN kind text GENERATED ALWAYS AS (
    CASE
        WHEN severity = 'error' THEN 'row'
        WHEN field IN ('partner1_phone', 'partner2_phone') THEN 'phone'
        WHEN field IN ('partner1_email', 'partner2_email', 'name_with_email') THEN 'email'
        WHEN field IN ('wedding_date', 'inquiry_date', 'booking_date') THEN 'date'
        ELSE 'detail'
    END
) STORED;

CREATE INDEX sync_job_errors_kind_idx ON sync_job_errors (supplier_id, job_id, kind, id);
