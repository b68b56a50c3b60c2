-- Contract v2's data: the scheduled opening and its draw, ticket limits and the
-- waiting list per concert, paused admission, seat grades, refunds and tickets.
-- One migration for the columns several features read, so that each feature's
-- own migration only adds what it alone needs.

-- The opening (rules 16 and 17). draw_seed is secret until drawn_at is set;
-- draw_commitment = sha256(draw_seed) in lowercase hex, public from the start.
ALTER TABLE concerts
    ADD COLUMN sale_opens_at TIMESTAMPTZ(3),
    ADD COLUMN draw_seed BYTEA,
    ADD COLUMN draw_commitment TEXT,
    ADD COLUMN drawn_at TIMESTAMPTZ(3),
    ADD COLUMN ticket_limit_per_user INTEGER NOT NULL DEFAULT 4 CHECK (ticket_limit_per_user >= 1),
    ADD COLUMN keep_line_after_sell_out BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT concerts_draw_seed_length CHECK (draw_seed IS NULL OR octet_length(draw_seed) = 32);

-- Paused admission (rule 25).
ALTER TABLE queue_policies ADD COLUMN admission_open BOOLEAN NOT NULL DEFAULT true;

-- Grades (rule 20): every seat has one; a reservation keeps the grade it was sold in.
ALTER TABLE seats ADD COLUMN grade TEXT NOT NULL DEFAULT 'GENERAL'
    CHECK (char_length(grade) BETWEEN 1 AND 20);
ALTER TABLE reservation_seats ADD COLUMN grade TEXT NOT NULL DEFAULT 'GENERAL';

-- Refunds (rule 21).
ALTER TYPE "ReservationStatus" ADD VALUE 'REFUNDED';
ALTER TYPE "PaymentStatus" ADD VALUE 'REFUNDED';
ALTER TYPE "LedgerKind" ADD VALUE 'REFUND';
ALTER TABLE payments
    ADD COLUMN refunded_amount INTEGER CHECK (refunded_amount IS NULL OR refunded_amount >= 0),
    ADD COLUMN refunded_at TIMESTAMPTZ(3);

-- Tickets (rule 22): one per seat of a CONFIRMED reservation; void once refunded.
CREATE TABLE tickets (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    reservation_id UUID NOT NULL REFERENCES reservations (id),
    user_id UUID NOT NULL REFERENCES users (id),
    seat_id UUID NOT NULL REFERENCES seats (id),
    seat_number INTEGER NOT NULL,
    grade TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    checked_in_at TIMESTAMPTZ(3),
    voided_at TIMESTAMPTZ(3),
    created_at TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    CONSTRAINT tickets_void_or_checked_in CHECK (voided_at IS NULL OR checked_in_at IS NULL)
);
CREATE INDEX tickets_reservation ON tickets (reservation_id);
CREATE INDEX tickets_user_created ON tickets (user_id, created_at DESC, id DESC);
