-- Upcoming weddings read clients_couple_date_idx (supplier_id, wedding_date, lower(partner1_last)) in date order
-- and sort each day's few weddings by id (an incremental sort), so clients_wedding_idx (supplier_id, wedding_date,
-- id) was a second index for the same order. Every import paid for both: one fewer index to maintain per client
-- written (~0.3 of PostgreSQL's ~4.5 CPU-seconds in a 100,000-row import). The upcoming page at 1,000,000 clients:
-- 0.3 -> 0.45 ms (tests/test_query_plans.py checks it reads the remaining index).
DROP INDEX clients_wedding_idx;
