-- The three writes of an on-sale — hold, pay, charge — each as one function, so
-- each is one statement and one round trip instead of a transaction of five to
-- nine (BEGIN, the statements, COMMIT). Under a rush every round trip waits its
-- turn behind a busy event loop while holding a pooled connection (and, for a
-- hold or a pay, row locks), so the number of round trips inside a transaction
-- is what bounds its throughput and latency (BENCHMARKS.md). The statements,
-- their order and their lock order are those the services ran before, one by
-- one; see src/services/seat-locks.ts for the lock order.
--
-- Called as `SELECT * FROM f(...)` outside an explicit transaction: the call is
-- its own transaction, and an exception rolls all of it back. Each statement in
-- a (VOLATILE) function takes a new snapshot, as READ COMMITTED statements do.
-- Refusals are raised as SQLSTATE P0001 with a message 'ticketing:<CODE>' and
-- the facts in DETAIL; src/db/ticket-functions.ts turns them into AppErrors.

-- Holds the seats p_numbers of date p_date, all or none, for a new reservation
-- p_id with its PENDING payment. The reservation row comes first: the
-- one-HELD-per-(user, concert) unique index turns a second simultaneous hold of
-- the same user into a unique violation (HOLD_LIMIT) before any seat is locked.
CREATE FUNCTION ticket_hold(
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
         WHERE s.id = locked.id AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= now()))
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

-- Claims the idempotency key for this call (waiting on a concurrent claim of
-- the same key), or returns the response its first call stored. A key used
-- with another operation or other arguments is refused (KEY_REUSED).
CREATE FUNCTION ticket_claim_key(p_user UUID, p_key TEXT, p_operation TEXT, p_hash TEXT, OUT claimed BOOLEAN, OUT response JSONB)
LANGUAGE plpgsql AS $$
DECLARE
    k RECORD;
BEGIN
    INSERT INTO idempotency_keys (user_id, key, operation, request_hash) VALUES (p_user, p_key, p_operation, p_hash)
    ON CONFLICT (user_id, key) DO NOTHING;
    IF FOUND THEN
        claimed := true;
        RETURN;
    END IF;
    SELECT i.operation, i.request_hash, i.response INTO k FROM idempotency_keys i WHERE i.user_id = p_user AND i.key = p_key;
    IF k.operation <> p_operation OR k.request_hash <> p_hash THEN
        RAISE EXCEPTION 'ticketing:KEY_REUSED';
    END IF;
    -- The holder stores its response before it commits, so a committed key always has one.
    IF k.response IS NULL THEN
        RAISE EXCEPTION 'idempotency key committed without a response';
    END IF;
    claimed := false;
    response := k.response;
END
$$;

-- Pays reservation p_reservation from p_user's balance: reservation CONFIRMED
-- (decided against clock_timestamp(), so a pay and the hold's end exclude each
-- other), seats SOLD, balance debited, payment COMPLETED, ledger entry written,
-- the response stored under the key. With a key already used: `replayed`.
CREATE FUNCTION ticket_pay(
    p_reservation UUID, p_user UUID, p_key TEXT, p_hash TEXT,
    OUT replayed JSONB, OUT payment_id UUID, OUT amount INTEGER, OUT created_at TIMESTAMPTZ, OUT paid_at TIMESTAMPTZ,
    OUT seat_ids UUID[], OUT seat_numbers INTEGER[], OUT seat_prices INTEGER[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_total INTEGER;
    v_decided TIMESTAMPTZ;
    v_status TEXT;
    v_seat_count INTEGER;
    v_balance INTEGER;
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
     WHERE r.id = p_reservation AND r.status = 'HELD' AND r.held_until > clock_timestamp()
    RETURNING r.total_price, clock_timestamp() INTO v_total, v_decided;
    IF NOT FOUND THEN
        SELECT CASE WHEN r.status = 'HELD' AND r.held_until <= clock_timestamp() THEN 'EXPIRED' ELSE r.status::text END
          INTO v_status FROM reservations r WHERE r.id = p_reservation;
        RAISE EXCEPTION 'ticketing:NOT_HELD' USING DETAIL = coalesce(v_status, 'EXPIRED');
    END IF;

    -- A seat of a hold that ran out can be taken by a new hold before the
    -- sweeper sees it; then this pay came too late and must not go through.
    SELECT count(*) INTO v_seat_count FROM reservation_seats rs WHERE rs.reservation_id = p_reservation;
    WITH locked AS MATERIALIZED (
        SELECT s.id FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id
         WHERE rs.reservation_id = p_reservation
         ORDER BY s.concert_date_id, s.number
           FOR UPDATE OF s
    ), sold AS (
        UPDATE seats s SET status = 'SOLD', held_until = NULL
          FROM locked
         WHERE s.id = locked.id AND s.status = 'HELD' AND s.reservation_id = p_reservation
        RETURNING s.id, s.number, s.price
    )
    SELECT array_agg(x.id ORDER BY x.number), array_agg(x.number ORDER BY x.number), array_agg(x.price ORDER BY x.number)
      INTO seat_ids, seat_numbers, seat_prices FROM sold x;
    IF coalesce(cardinality(seat_numbers), 0) <> v_seat_count THEN
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

    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET response = jsonb_build_object(
            'id', ticket_pay.payment_id, 'reservationId', p_reservation, 'amount', ticket_pay.amount, 'status', 'COMPLETED',
            'createdAt', ticket_pay.created_at, 'paidAt', ticket_pay.paid_at)
         WHERE i.user_id = p_user AND i.key = p_key;
    END IF;
END
$$;

-- Adds p_amount to p_user's balance unless that passes p_max, with its ledger
-- entry, and returns the balance right after this charge. With a key already
-- used: `replayed` (the stored { balance }).
CREATE FUNCTION ticket_charge(
    p_user UUID, p_amount INTEGER, p_max BIGINT, p_key TEXT, p_hash TEXT,
    OUT replayed JSONB, OUT balance INTEGER
) LANGUAGE plpgsql AS $$
DECLARE
    c RECORD;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT * INTO c FROM ticket_claim_key(p_user, p_key, 'chargeBalance', p_hash);
        IF NOT c.claimed THEN
            replayed := c.response;
            RETURN;
        END IF;
    END IF;
    -- bigint: balance + amount can pass 2^31 when both limits are near it.
    UPDATE users u SET balance = u.balance + p_amount WHERE u.id = p_user AND u.balance::bigint + p_amount <= p_max
    RETURNING u.balance INTO balance;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p_user) THEN
            RAISE EXCEPTION 'ticketing:NO_USER';
        END IF;
        RAISE EXCEPTION 'ticketing:BALANCE_LIMIT';
    END IF;
    INSERT INTO ledger_entries (user_id, kind, amount, balance_after) VALUES (p_user, 'CHARGE', p_amount, balance);
    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET response = jsonb_build_object('balance', ticket_charge.balance) WHERE i.user_id = p_user AND i.key = p_key;
    END IF;
END
$$;
