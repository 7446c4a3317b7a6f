-- The sources of core/sources/ (one module each): Google Contacts, Outlook, Dubsado, 17hats, Studio Ninja and
-- Pixieset exports join the spreadsheet, HoneyBook, Light Blue, Tave and phone contacts. tests/test_sources_registry.py
-- holds these lists and the registry together.
ALTER TABLE clients DROP CONSTRAINT clients_source_check;
ALTER TABLE clients ADD CONSTRAINT clients_source_check CHECK (source IN (
    'csv', 'honeybook', 'lightblue', 'tave', 'dubsado', 'seventeen_hats', 'studio_ninja', 'pixieset', 'google',
    'outlook', 'vcard', 'manual'
));

-- File sources have an integration too: it remembers the column mappings of their files.
ALTER TABLE crm_integrations DROP CONSTRAINT crm_integrations_provider_check;
ALTER TABLE crm_integrations ADD CONSTRAINT crm_integrations_provider_check CHECK (provider IN (
    'csv', 'honeybook', 'lightblue', 'tave', 'dubsado', 'seventeen_hats', 'studio_ninja', 'pixieset', 'google',
    'outlook', 'vcard'
));

-- A job imports from (or sends to) one of those; a ping is a round trip through a worker and names no source.
-- NOT VALID: rows written before this check are not read again (a ping's source was free text).
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_source_check CHECK (kind = 'ping' OR source IN (
    'csv', 'honeybook', 'lightblue', 'tave', 'dubsado', 'seventeen_hats', 'studio_ninja', 'pixieset', 'google',
    'outlook', 'vcard'
)) NOT VALID;
