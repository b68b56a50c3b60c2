-- Pays reservation p_reservation from p_user's balance: reservation CONFIRMED
-- (decided against clock_timestamp(), so a pay and the hold's end exclude each
-- other), seats SOLD, balance debited, payment COMPLETED, ledger entry written,
-- a ticket issued per seat, the response stored under the key. With a key
-- already used: `replayed`.
--
-- It refuses in the order of contract/README.md (Errors), after the key: NOT_FOUND,
-- FORBIDDEN (another user's), NOT_HELD (its DETAIL EXPIRED for a hold that ran out),
-- QUEUE_TOKEN_INVALID (p_token is not the token the hold was placed with; NULL: not
-- checked), HOLD_EXPIRED (a seat of the hold taken since), INSUFFICIENT_BALANCE.
-- So a pay whose queue token the service found ACTIVE is one round trip: the
-- reservation is not read beforehand (BENCHMARKS.md, 2026-12-04).
--
-- `available_left`: whether the date still had a seat AVAILABLE (neither held nor
-- sold), as this call's last statement saw it. False means the date may have sold
-- out (its other seats may be held by pays about to commit), and the service asks
-- after the commit, before it answers; true spares that round trip, and the
-- service asks a little later instead (src/services/sold-out.ts says why).
DROP FUNCTION IF EXISTS ticket_pay(UUID, UUID, TEXT, TEXT);
-- The same arguments with another OUT column (`unsold_left`), before 2026-12-04's landing.
DO $drop$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'ticket_pay' AND 'unsold_left' = ANY (proargnames)) THEN
        DROP FUNCTION ticket_pay(UUID, UUID, TEXT, TEXT, TEXT);
    END IF;
END $drop$;
CREATE OR REPLACE FUNCTION ticket_pay(
    p_reservation UUID, p_user UUID, p_key TEXT, p_hash TEXT, p_token TEXT,
    OUT replayed JSONB, OUT payment_id UUID, OUT amount INTEGER, OUT created_at TIMESTAMPTZ, OUT paid_at TIMESTAMPTZ,
    OUT seat_ids UUID[], OUT seat_numbers INTEGER[], OUT seat_prices INTEGER[],
    OUT of_concert UUID, OUT of_date UUID, OUT available_left BOOLEAN
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_total INTEGER;
    v_decided TIMESTAMPTZ;
    v_status TEXT;
    v_seat_ids UUID[];
    v_grades TEXT[];
    v_balance INTEGER;
    v_owner UUID;
    v_token TEXT;
    c RECORD;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT * INTO c FROM ticket_claim_key(p_user, p_key, 'pay', p_hash);
        IF NOT c.claimed THEN
            replayed := c.response;
            RETURN;
        END IF;
    END IF;

    UPDATE reservations r SET status = 'CONFIRMED'
     WHERE r.id = p_reservation AND r.user_id = p_user AND (p_token IS NULL OR r.queue_token = p_token)
       AND r.status = 'HELD' AND NOT hold_is_over(r.held_until)
    RETURNING r.total_price, clock_timestamp(), r.concert_id, r.concert_date_id INTO v_total, v_decided, of_concert, of_date;
    IF NOT FOUND THEN
        SELECT r.user_id, r.queue_token, CASE WHEN r.status = 'HELD' AND hold_is_over(r.held_until) THEN 'EXPIRED' ELSE r.status::text END
          INTO v_owner, v_token, v_status FROM reservations r WHERE r.id = p_reservation;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ticketing:NOT_FOUND';
        ELSIF v_owner <> p_user THEN
            RAISE EXCEPTION 'ticketing:FORBIDDEN';
        ELSIF v_status = 'HELD' AND v_token <> p_token THEN
            RAISE EXCEPTION 'ticketing:QUEUE_TOKEN_INVALID';
        END IF;
        RAISE EXCEPTION 'ticketing:NOT_HELD' USING DETAIL = v_status;
    END IF;

    -- A seat of a hold that ran out can be taken by a new hold before the
    -- sweeper sees it; then this pay came too late and must not go through.
    -- The seats are checked as locked (a locked row is the newest version, and
    -- stays so until the commit), not in the UPDATE's WHERE: a condition on
    -- s.status there let the planner find the seats through a partial index on
    -- status, reading every HELD seat of the database for each pay (1.4 ms of
    -- PostgreSQL's 4.1 ms per pay with 7,000 seats held; BENCHMARKS.md, sixth stop).
    -- The UPDATE's only condition on seats is the id, so it takes the primary key.
    --
    -- The reservation's seats are read once, as ids, then each seat is locked by
    -- its id, one at a time (the LATERAL lookup runs once per id, in the array's
    -- order: the seats' numbers on the reservation's one date, the lock order).
    -- A join of reservation_seats to seats was planned from statistics: before
    -- reservation_seats had any, its generic plan scanned every seat, twice per
    -- pay (8–10 ms of PostgreSQL's CPU per pay; BENCHMARKS.md, 2026-12-03).
    v_seat_ids := ARRAY(SELECT rs.seat_id FROM reservation_seats rs WHERE rs.reservation_id = p_reservation ORDER BY rs.seat_number);
    WITH locked AS MATERIALIZED (
        SELECT s.id, s.status, s.reservation_id
          FROM unnest(v_seat_ids) AS u (id),
               LATERAL (SELECT s.id, s.status, s.reservation_id FROM seats s WHERE s.id = u.id FOR UPDATE) s
    ), sold AS (
        UPDATE seats s SET status = 'SOLD', held_until = NULL
          FROM locked
         WHERE s.id = locked.id AND locked.status = 'HELD' AND locked.reservation_id = p_reservation
        RETURNING s.id, s.number, s.price, s.grade
    )
    SELECT array_agg(x.id ORDER BY x.number), array_agg(x.number ORDER BY x.number), array_agg(x.price ORDER BY x.number),
           array_agg(x.grade ORDER BY x.number)
      INTO seat_ids, seat_numbers, seat_prices, v_grades FROM sold x;
    IF coalesce(cardinality(seat_numbers), 0) <> cardinality(v_seat_ids) THEN
        RAISE EXCEPTION 'ticketing:HOLD_EXPIRED';
    END IF;

    UPDATE users u SET balance = u.balance - v_total WHERE u.id = p_user AND u.balance >= v_total RETURNING u.balance INTO v_balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ticketing:INSUFFICIENT_BALANCE' USING DETAIL = v_total::text;
    END IF;

    UPDATE payments p SET status = 'COMPLETED', paid_at = v_decided
     WHERE p.reservation_id = p_reservation AND p.status = 'PENDING'
    RETURNING p.id, p.amount, p.created_at, p.paid_at INTO payment_id, amount, created_at, paid_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'held reservation % has no pending payment', p_reservation;
    END IF;
    INSERT INTO ledger_entries (user_id, kind, amount, balance_after, payment_id)
    VALUES (p_user, 'PAYMENT', -amount, v_balance, payment_id);

    -- One ticket per seat (rule 22). The code is two version-4 UUIDs' bytes in
    -- hex: 244 bits from pg_strong_random (the server's CSPRNG), core since
    -- PostgreSQL 13, so neither pgcrypto nor a round trip for codes is needed.
    -- The seats are the ones just sold, as the UPDATE returned them.
    INSERT INTO tickets (reservation_id, user_id, seat_id, seat_number, grade, code, created_at)
    SELECT p_reservation, p_user, t.id, t.number, t.grade,
           encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex'), v_decided
      FROM unnest(seat_ids, seat_numbers, v_grades) AS t (id, number, grade);

    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET response = jsonb_build_object(
            'id', ticket_pay.payment_id, 'reservationId', p_reservation, 'amount', ticket_pay.amount, 'status', 'COMPLETED',
            'createdAt', ticket_pay.created_at, 'paidAt', ticket_pay.paid_at)
         WHERE i.user_id = p_user AND i.key = p_key;
    END IF;

    -- By the partial index seats_available_idx. For an EXISTS the planner weighs
    -- the cost of finding a first row, and from the statistics (most of a date's
    -- seats AVAILABLE) a sequential scan looked cheapest: it read every page up to
    -- the first free seat, past every seat held or sold, 104 buffers with 10,000 of
    -- 30,000 taken, and more as the sale goes on; the index, 13 once the first scan
    -- has marked the entries of seats taken since as dead (tests/db/available-probe.test.ts:
    -- a pay read 340 buffers against 79 by the scan, 124 against 82 by the index).
    -- Hence enable_seqscan = off for this function: each of its other statements
    -- finds its rows by a key too.
    available_left := EXISTS (SELECT 1 FROM seats s WHERE s.concert_date_id = of_date AND s.status = 'AVAILABLE');
END
$$;
