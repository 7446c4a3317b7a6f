-- A row an import kept but had to leave a field out of (a phone 'TBC', a date 'TBD', an over-long cell) is
-- reported beside the rows it could not import: the photographer fixes the first kind in the app, the second in
-- the file.
ALTER TABLE sync_job_errors ADD COLUMN severity text NOT NULL DEFAULT 'error'
    CHECK (severity IN ('error', 'warning'));
