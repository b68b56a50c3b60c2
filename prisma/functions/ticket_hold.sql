-- Holds the seats p_numbers of date p_date, all or none, for a new reservation
-- p_id with its PENDING payment. The reservation row comes first: the
-- one-HELD-per-(user, concert) unique index turns a second simultaneous hold of
-- the same user into a unique violation (HOLD_LIMIT) before any seat is locked.
--
-- Then the ticket limit (rule 19): the user's seats of the date, HELD (and not
-- run out) or in CONFIRMED reservations, plus these, must not pass the concert's
-- ticket_limit_per_user, or nothing is held (TICKET_LIMIT). The count runs under
-- a transaction-scoped advisory lock per (user, date), taken before any seat
-- lock and by nothing that holds a seat lock, so holds of one user for one date
-- are counted one after the other on every instance, and the lock order
-- (reservation row, then the (user, date) lock, then seats by number) never
-- crosses another: no deadlock. (Today the one-HELD index already serialises
-- one user's holds per concert; the lock keeps the limit exact without relying
-- on it.)
--
-- The total is the sum of the prices of the seats as locked (rule 20): a
-- setSeatGrades that committed while this hold waited for a seat is seen.
--
-- Each seat is found by its (date, number), one number at a time. Asked for
-- `number = ANY(p_numbers)`, the generic plan weighed ten index descents (its
-- guess at an array's length) against reading the date's seats by
-- concert_date_id alone and filtering the numbers, and whenever the database's
-- dates averaged few seats it took the second: each hold then read all 5,000
-- seats of the rush's date, twice (113 and 108 buffers per statement,
-- bench/results/2026-12-02/rush-statements-b77b32f.txt). For one number the
-- unique index gives one row, and no other plan comes near it.
DROP FUNCTION IF EXISTS ticket_hold(UUID, UUID, UUID, UUID, TEXT, INTEGER, INTEGER[]);
CREATE OR REPLACE FUNCTION ticket_hold(
    p_id UUID, p_user UUID, p_concert UUID, p_date UUID, p_token TEXT, p_hold_seconds INTEGER, p_numbers INTEGER[],
    OUT total_price INTEGER, OUT held_until TIMESTAMPTZ, OUT created_at TIMESTAMPTZ,
    OUT payment_id UUID, OUT payment_created_at TIMESTAMPTZ,
    OUT seat_ids UUID[], OUT seat_numbers INTEGER[], OUT seat_prices INTEGER[], OUT seat_grades TEXT[]
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_limit INTEGER;
    v_owned INTEGER;
BEGIN
    INSERT INTO reservations AS r (id, user_id, concert_id, concert_date_id, queue_token, total_price, held_until)
    SELECT p_id, p_user, p_concert, p_date, p_token,
           (SELECT sum((SELECT s.price FROM seats s WHERE s.concert_date_id = p_date AND s.number = n)) FROM unnest(p_numbers) n),
           now() + make_interval(secs => p_hold_seconds)
    RETURNING r.total_price, r.held_until, r.created_at INTO total_price, held_until, created_at;

    PERFORM pg_advisory_xact_lock(hashtextextended('ticket_limit:' || p_user::text || ':' || p_date::text, 0));
    SELECT c.ticket_limit_per_user INTO v_limit FROM concerts c WHERE c.id = p_concert;
    SELECT count(*) INTO v_owned
      FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id
     WHERE r.user_id = p_user AND r.concert_date_id = p_date AND r.id <> p_id
       AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND NOT hold_is_over(r.held_until)));
    IF v_owned + cardinality(p_numbers) > v_limit THEN
        RAISE EXCEPTION 'ticketing:TICKET_LIMIT' USING DETAIL = v_limit::text || ',' || v_owned::text;
    END IF;

    -- Locks in (date, number) order, one seat at a time (the LATERAL lookup runs
    -- once per number, in the sorted array's order), and keeps those still free
    -- (AVAILABLE, or a hold that ran out) as locked: a locked row is the newest
    -- version until the commit. The UPDATE then finds them by id alone (a
    -- condition on status could be answered from seats_unsold_idx).
    WITH locked AS MATERIALIZED (
        SELECT s.id, s.status, s.held_until
          FROM unnest(ARRAY(SELECT DISTINCT x FROM unnest(p_numbers) x ORDER BY x)) AS n (number),
               LATERAL (SELECT s.id, s.status, s.held_until FROM seats s
                         WHERE s.concert_date_id = p_date AND s.number = n.number FOR UPDATE) s
    ), held AS (
        UPDATE seats s SET status = 'HELD', held_until = ticket_hold.held_until, reservation_id = p_id
          FROM locked
         WHERE s.id = locked.id AND (locked.status = 'AVAILABLE' OR (locked.status = 'HELD' AND hold_is_over(locked.held_until)))
        RETURNING s.id, s.number, s.price, s.grade
    )
    SELECT array_agg(h.id ORDER BY h.number), array_agg(h.number ORDER BY h.number), array_agg(h.price ORDER BY h.number),
           array_agg(h.grade ORDER BY h.number)
      INTO seat_ids, seat_numbers, seat_prices, seat_grades FROM held h;

    IF coalesce(cardinality(seat_numbers), 0) < cardinality(p_numbers) THEN
        RAISE EXCEPTION 'ticketing:SEAT_UNAVAILABLE' USING DETAIL = array_to_string(
            ARRAY(SELECT n FROM unnest(p_numbers) n WHERE n <> ALL(coalesce(seat_numbers, '{}')) ORDER BY n), ',');
    END IF;

    IF (SELECT sum(x) FROM unnest(seat_prices) x) <> total_price THEN
        total_price := (SELECT sum(x) FROM unnest(seat_prices) x);
        UPDATE reservations r SET total_price = ticket_hold.total_price WHERE r.id = p_id;
    END IF;

    INSERT INTO reservation_seats (reservation_id, seat_id, seat_number, price, grade)
    SELECT p_id, unnest(seat_ids), unnest(seat_numbers), unnest(seat_prices), unnest(seat_grades);
    INSERT INTO payments AS p (reservation_id, user_id, amount) VALUES (p_id, p_user, total_price)
    RETURNING p.id, p.created_at INTO payment_id, payment_created_at;
END
$$;
