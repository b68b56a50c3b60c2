-- The one definition of "a hold is over": at held_until, by the database's
-- clock at the moment the row is decided. clock_timestamp(), not now(): now()
-- is the start of the transaction, and a statement that waited for a row lock
-- (a pay behind the sweeper, a cancel behind a pay) must compare with the time
-- it actually decides at, or it could confirm a hold after its end. One clock
-- for every writer and reader (the PL/pgSQL functions, the sweeper, the views:
-- src/services/hold-state.ts), so that a hold is never over for one and
-- running for another. A plain SQL function: the planner inlines it.
CREATE OR REPLACE FUNCTION hold_is_over(p_held_until TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT p_held_until <= clock_timestamp()
$$;
