-- What the rebuild of a lost line (rule 27) needs besides each token's order
-- and status, for the opening (rules 16, 17) and the waiting list (rule 23).

-- The token entered the pre-queue (before the opening). Its draw key is not
-- kept here: the rebuild recomputes it from the concert's seed and the user.
ALTER TABLE queue_tokens ADD COLUMN pre_queue BOOLEAN NOT NULL DEFAULT false;

-- The concert sold out and keeps its line as a waiting list (until a date is
-- added or its last date starts).
ALTER TABLE queue_lines ADD COLUMN waitlist BOOLEAN NOT NULL DEFAULT false;
