-- Claims the idempotency key for this call (waiting on a concurrent claim of
-- the same key), or returns the response its first call stored. A key used
-- with another operation or other arguments is refused (KEY_REUSED).
CREATE OR REPLACE FUNCTION ticket_claim_key(p_user UUID, p_key TEXT, p_operation TEXT, p_hash TEXT, OUT claimed BOOLEAN, OUT response JSONB)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
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
