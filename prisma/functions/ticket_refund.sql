-- Refunds p_user's CONFIRMED reservation p_reservation (rule 21), all or
-- nothing: reservation and payment REFUNDED (refunded_amount = total - fee,
-- refunded_at), the balance credited with a REFUND ledger entry, the tickets
-- void, the seats AVAILABLE again, the response stored under the key. With a
-- key already used: `replayed`.
--
-- Refused with ticketing:NOT_REFUNDABLE (DETAIL: the reservation's status,
-- CLOSED or CHECKED_IN) when it is not CONFIRMED, the refund window has closed
-- (p_closes_hours before the date starts) or a ticket was checked in. Decided
-- against clock_timestamp(). The fee is p_fee_percent of the total, rounded
-- down, and 0 while the date starts more than p_free_days days later.
--
-- Races: the conditional UPDATE of the reservation row lets one refund through
-- (a second waits on the row lock, then finds it REFUNDED); the tickets are
-- locked before their check-in state is read, so a concurrent checkIn either
-- committed first (then this refuses) or waits and finds the ticket void; the
-- seats become AVAILABLE in this transaction, so no hold can take one before
-- the commit. Lock order: reservation, tickets, seats (sorted), user.
CREATE OR REPLACE FUNCTION ticket_refund(
    p_reservation UUID, p_user UUID, p_key TEXT, p_hash TEXT,
    p_closes_hours INTEGER, p_fee_percent INTEGER, p_free_days INTEGER,
    OUT replayed JSONB, OUT refunded_amount INTEGER, OUT refunded_at TIMESTAMPTZ,
    OUT concert_id UUID, OUT concert_date_id UUID,
    OUT seat_ids UUID[], OUT seat_numbers INTEGER[], OUT seat_prices INTEGER[]
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_now TIMESTAMPTZ := clock_timestamp();
    v_total INTEGER;
    v_starts TIMESTAMPTZ;
    v_status TEXT;
    v_fee INTEGER;
    v_seat_ids UUID[];
    v_checked TIMESTAMPTZ;
    v_balance INTEGER;
    v_payment UUID;
    c RECORD;
BEGIN
    IF p_key IS NOT NULL THEN
        SELECT * INTO c FROM ticket_claim_key(p_user, p_key, 'refundReservation', p_hash);
        IF NOT c.claimed THEN
            replayed := c.response;
            RETURN;
        END IF;
    END IF;

    UPDATE reservations r SET status = 'REFUNDED'
     WHERE r.id = p_reservation AND r.user_id = p_user AND r.status = 'CONFIRMED'
    RETURNING r.total_price, r.concert_id, r.concert_date_id INTO v_total, concert_id, concert_date_id;
    IF NOT FOUND THEN
        SELECT r.status::text INTO v_status FROM reservations r WHERE r.id = p_reservation;
        RAISE EXCEPTION 'ticketing:NOT_REFUNDABLE' USING DETAIL = coalesce(v_status, 'NONE');
    END IF;

    SELECT d.starts_at INTO v_starts FROM concert_dates d WHERE d.id = concert_date_id;
    IF v_now >= v_starts - make_interval(hours => p_closes_hours) THEN
        RAISE EXCEPTION 'ticketing:NOT_REFUNDABLE' USING DETAIL = 'CLOSED';
    END IF;

    PERFORM 1 FROM tickets t WHERE t.reservation_id = p_reservation ORDER BY t.id FOR UPDATE;
    SELECT min(t.checked_in_at) INTO v_checked FROM tickets t WHERE t.reservation_id = p_reservation;
    IF v_checked IS NOT NULL THEN
        RAISE EXCEPTION 'ticketing:NOT_REFUNDABLE' USING DETAIL = 'CHECKED_IN';
    END IF;
    UPDATE tickets t SET voided_at = v_now WHERE t.reservation_id = p_reservation;

    v_fee := CASE WHEN v_starts > v_now + make_interval(days => p_free_days) THEN 0
                  ELSE (v_total::bigint * p_fee_percent / 100)::integer END;
    refunded_amount := v_total - v_fee;
    refunded_at := v_now;

    -- The seats are read once as ids and locked one at a time in their numbers'
    -- order, checked as locked: as in ticket_pay.sql, which says why.
    v_seat_ids := ARRAY(SELECT rs.seat_id FROM reservation_seats rs WHERE rs.reservation_id = p_reservation ORDER BY rs.seat_number);
    WITH locked AS MATERIALIZED (
        SELECT s.id, s.status, s.reservation_id
          FROM unnest(v_seat_ids) AS u (id),
               LATERAL (SELECT s.id, s.status, s.reservation_id FROM seats s WHERE s.id = u.id FOR UPDATE) s
    ), freed AS (
        UPDATE seats s SET status = 'AVAILABLE', held_until = NULL, reservation_id = NULL
          FROM locked
         WHERE s.id = locked.id AND locked.status = 'SOLD' AND locked.reservation_id = p_reservation
        RETURNING s.id, s.number, s.price
    )
    SELECT array_agg(x.id ORDER BY x.number), array_agg(x.number ORDER BY x.number), array_agg(x.price ORDER BY x.number)
      INTO seat_ids, seat_numbers, seat_prices FROM freed x;
    IF coalesce(cardinality(seat_numbers), 0) <> cardinality(v_seat_ids) THEN
        RAISE EXCEPTION 'confirmed reservation % does not own all its seats', p_reservation;
    END IF;

    -- A refund may take the balance past MAX_BALANCE (rule 11): no limit here.
    UPDATE users u SET balance = u.balance + refunded_amount WHERE u.id = p_user RETURNING u.balance INTO v_balance;
    UPDATE payments p SET status = 'REFUNDED', refunded_amount = ticket_refund.refunded_amount, refunded_at = v_now
     WHERE p.reservation_id = p_reservation AND p.status = 'COMPLETED'
    RETURNING p.id INTO v_payment;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'confirmed reservation % has no completed payment', p_reservation;
    END IF;
    INSERT INTO ledger_entries (user_id, kind, amount, balance_after, payment_id)
    VALUES (p_user, 'REFUND', refunded_amount, v_balance, v_payment);

    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys i SET response = (
            SELECT jsonb_build_object(
                'id', r.id, 'userId', r.user_id, 'concertId', r.concert_id, 'concertDateId', r.concert_date_id,
                'totalPrice', r.total_price, 'status', 'REFUNDED', 'heldUntil', r.held_until, 'createdAt', r.created_at)
              FROM reservations r WHERE r.id = p_reservation)
         WHERE i.user_id = p_user AND i.key = p_key;
    END IF;
END
$$;
