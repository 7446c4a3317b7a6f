-- Studio settings: the time zone and date style every page, fragment and event shows times in (the country for
-- phone numbers is default_region, 0001). Names are IANA's; the web app checks one against zoneinfo before saving.
ALTER TABLE suppliers
    ADD COLUMN timezone text NOT NULL DEFAULT 'Europe/London'
        CHECK (timezone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$'),
    ADD COLUMN date_style text NOT NULL DEFAULT 'dd mon yyyy'
        CHECK (date_style IN ('dd mon yyyy', 'dd/mm/yyyy', 'mm/dd/yyyy', 'yyyy-mm-dd')),
    -- The private calendar feed's secret (its URL holds it, so a phone's calendar app needs no sign-in); NULL until
    -- the studio asks for a feed, replaced when it is reset.
    ADD COLUMN calendar_token text UNIQUE CHECK (length(calendar_token) BETWEEN 32 AND 64);

-- Search ignores accents: "chateau" finds "Château", "zoe" finds "Zoë". unaccent() is STABLE (its dictionary is
-- found through search_path at run time), so it cannot feed a generated column; this wrapper names the function
-- and its dictionary by schema, which makes it as immutable as the rules file, the usual pattern.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

CREATE FUNCTION fold_accents(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.unaccent('public.unaccent'::regdictionary, $1);

-- The one tokeniser, both sides (0009, 0011), now folding accents after lower-casing ("É" → "é" → "e").
CREATE OR REPLACE FUNCTION search_words(haystack text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN array_to_tsvector(array_remove(
        regexp_split_to_array(fold_accents(lower(haystack)), '[[:space:][:punct:]]+'), ''));

CREATE OR REPLACE FUNCTION search_query(typed text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT string_agg(quote_literal(m[1]) || CASE WHEN m[2] = '' THEN ':*' ELSE '' END, ' & ')::tsquery
            FROM regexp_matches(fold_accents(lower(typed)), '([^[:space:][:punct:]]+)([[:punct:]]?)', 'g') AS m);

-- Stored words were made by the old tokeniser: the same expression set again rewrites every row and rebuilds the
-- indexes that hold the column (clients_words_idx, clients_list_idx).
ALTER TABLE clients ALTER COLUMN search_words SET EXPRESSION AS (search_words(
    partner1_first || ' ' || partner1_last || ' ' || partner2_first || ' ' || partner2_last || ' '
    || coalesce(partner1_email, '') || ' ' || coalesce(partner2_email, '') || ' '
    || regexp_replace(coalesce(partner1_phone, '') || ' ' || coalesce(partner2_phone, ''), '[^0-9 ]', '', 'g')
    || ' ' || coalesce(venue, '')
));
ANALYZE clients;
