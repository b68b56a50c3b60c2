-- Holds the seats p_numbers of date p_date, all or none, for a new reservation
-- p_id with its PENDING payment. The reservation row comes first: the
-- one-HELD-per-(user, concert) unique index turns a second simultaneous hold of
-- the same user into a unique violation (HOLD_LIMIT) before any seat is locked.
CREATE OR REPLACE FUNCTION ticket_hold(
    p_id UUID, p_user UUID, p_concert UUID, p_date UUID, p_token TEXT, p_hold_seconds INTEGER, p_numbers INTEGER[],
    OUT total_price INTEGER, OUT held_until TIMESTAMPTZ, OUT created_at TIMESTAMPTZ,
    OUT payment_id UUID, OUT payment_created_at TIMESTAMPTZ,
    OUT seat_ids UUID[], OUT seat_numbers INTEGER[], OUT seat_prices INTEGER[]
) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reservations AS r (id, user_id, concert_id, concert_date_id, queue_token, total_price, held_until)
    SELECT p_id, p_user, p_concert, p_date, p_token, sum(s.price), now() + make_interval(secs => p_hold_seconds)
      FROM seats s WHERE s.concert_date_id = p_date AND s.number = ANY(p_numbers)
    RETURNING r.total_price, r.held_until, r.created_at INTO total_price, held_until, created_at;

    -- Locks in (date, number) order, then holds those still free (AVAILABLE, or a hold that ran out).
    WITH locked AS MATERIALIZED (
        SELECT s.id FROM seats s WHERE s.concert_date_id = p_date AND s.number = ANY(p_numbers) ORDER BY s.number FOR UPDATE
    ), held AS (
        UPDATE seats s SET status = 'HELD', held_until = ticket_hold.held_until, reservation_id = p_id
          FROM locked
         WHERE s.id = locked.id AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND hold_is_over(s.held_until)))
        RETURNING s.id, s.number, s.price
    )
    SELECT array_agg(h.id ORDER BY h.number), array_agg(h.number ORDER BY h.number), array_agg(h.price ORDER BY h.number)
      INTO seat_ids, seat_numbers, seat_prices FROM held h;

    IF coalesce(cardinality(seat_numbers), 0) < cardinality(p_numbers) THEN
        RAISE EXCEPTION 'ticketing:SEAT_UNAVAILABLE' USING DETAIL = array_to_string(
            ARRAY(SELECT n FROM unnest(p_numbers) n WHERE n <> ALL(coalesce(seat_numbers, '{}')) ORDER BY n), ',');
    END IF;

    INSERT INTO reservation_seats (reservation_id, seat_id, seat_number, price)
    SELECT p_id, unnest(seat_ids), unnest(seat_numbers), unnest(seat_prices);
    INSERT INTO payments AS p (reservation_id, user_id, amount) VALUES (p_id, p_user, total_price)
    RETURNING p.id, p.created_at INTO payment_id, payment_created_at;
END
$$;
