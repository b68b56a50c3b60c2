-- Whether the concert p_concert is sold out: it has a date to come, and none of its dates to come
-- has a seat left unsold (date_sold_out.sql, which says why it reads by the index only). Asked by a
-- sale that may have sold its date out (src/services/sold-out.ts), and with the concert's facts
-- that the queue reads once a second (src/services/queue/queue.service.ts).
CREATE OR REPLACE FUNCTION concert_sold_out(p_concert UUID) RETURNS BOOLEAN
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM concert_dates d WHERE d.concert_id = p_concert AND d.starts_at > now())
       AND NOT EXISTS (SELECT 1 FROM concert_dates d
                        WHERE d.concert_id = p_concert AND d.starts_at > now() AND NOT date_sold_out(d.id));
END
$$;
