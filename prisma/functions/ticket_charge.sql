-- Adds p_amount to p_user's balance unless that passes p_max, with its ledger
-- entry, and returns the balance right after this charge. With a key already
-- used: `replayed` (the stored { balance }).
CREATE OR REPLACE FUNCTION ticket_charge(
    p_user UUID, p_amount INTEGER, p_max BIGINT, p_key TEXT, p_hash TEXT,
    OUT replayed JSONB, OUT balance INTEGER
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
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
