-- Whether the date p_date has no seat left unsold (every seat SOLD; a HELD seat may still come
-- back): the sold-out question a sale asks of its own date (src/services/sold-out.ts). False for a
-- date that does not exist.
--
-- By the partial index seats_unsold_idx (status <> 'SOLD'), and only by it: the question is asked
-- at the end of a sale, when the statistics were most often taken before it, with every seat
-- unsold, and for an EXISTS the planner then took a sequential scan of the seats as the cheapest
-- way to the first unsold one. It read every page of the seats sold before it: 104 of a date of
-- 10,000 with 12 left (tests/db/sold-out-probe.test.ts), where the index reads a few.
CREATE OR REPLACE FUNCTION date_sold_out(p_date UUID) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_done BOOLEAN;
BEGIN
    SELECT NOT EXISTS (SELECT 1 FROM seats s WHERE s.concert_date_id = d.id AND s.status <> 'SOLD')
      INTO v_done FROM concert_dates d WHERE d.id = p_date;
    RETURN coalesce(v_done, false);
END
$$;
