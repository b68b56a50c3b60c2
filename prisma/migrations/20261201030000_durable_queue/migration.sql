-- The waiting room's journal (rule 27): every token enterQueue acknowledged, with
-- its order, status and times, so that a Redis that lost its data (a restart
-- without persistence, a failover to a replica that lagged) is rebuilt from here.
-- Redis stays the line's working copy; this is written before an answer is sent.

-- One row per concert whose line was ever opened: a line with a row here but no
-- marker in Redis was lost, not new.
CREATE TABLE queue_lines (
    concert_id UUID PRIMARY KEY,
    sold_out BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    rebuilt_at TIMESTAMPTZ(3),
    rebuilds INTEGER NOT NULL DEFAULT 0
);

-- One row per token. seq is the token's place in the order of entry (Redis's
-- INCR; null while only a status change of a token never acknowledged was
-- seen: such a row is never rebuilt); status only moves forward
-- (WAITING -> ACTIVE -> EXPIRED). Times are epoch ms, as in Redis.
CREATE TABLE queue_tokens (
    token TEXT PRIMARY KEY,
    concert_id UUID NOT NULL,
    user_id TEXT NOT NULL,
    seq BIGINT,
    status TEXT NOT NULL CHECK (status IN ('WAITING', 'ACTIVE', 'EXPIRED')),
    session_ends_at BIGINT,
    hold_until BIGINT,
    expired_reason TEXT,
    updated_at TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- The rebuild reads a concert's tokens that are still in line, in order.
CREATE INDEX queue_tokens_live ON queue_tokens (concert_id, seq) WHERE status <> 'EXPIRED';
-- and the ended ones of the last two days (a token that ended still answers EXPIRED).
CREATE INDEX queue_tokens_concert_updated ON queue_tokens (concert_id, updated_at);
