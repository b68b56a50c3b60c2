-- The whole data model. The database guards the invariants itself, so a bug in
-- the service cannot sell a seat twice or take a balance below zero.

CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
CREATE TYPE "SeatStatus" AS ENUM ('AVAILABLE', 'HELD', 'SOLD');
CREATE TYPE "ReservationStatus" AS ENUM ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED');
CREATE TYPE "PaymentStatus" AS ENUM ('PENDING', 'COMPLETED', 'EXPIRED', 'CANCELLED');
CREATE TYPE "LedgerKind" AS ENUM ('CHARGE', 'PAYMENT');

CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "balance" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "users_balance_not_negative" CHECK ("balance" >= 0)
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

CREATE TABLE "concerts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "title" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "concerts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "concerts_title_not_blank" CHECK (length(btrim("title")) > 0)
);

CREATE TABLE "concert_dates" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "concert_id" UUID NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "total_seats" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "concert_dates_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "concert_dates_total_seats_positive" CHECK ("total_seats" > 0),
    CONSTRAINT "concert_dates_concert_id_fkey" FOREIGN KEY ("concert_id") REFERENCES "concerts"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "concert_dates_concert_id_starts_at_idx" ON "concert_dates"("concert_id", "starts_at");

CREATE TABLE "seats" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "concert_date_id" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "price" INTEGER NOT NULL,
    "status" "SeatStatus" NOT NULL DEFAULT 'AVAILABLE',
    "held_until" TIMESTAMPTZ(3),
    "reservation_id" UUID,
    CONSTRAINT "seats_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "seats_number_positive" CHECK ("number" > 0),
    CONSTRAINT "seats_price_positive" CHECK ("price" > 0),
    -- A HELD seat always knows its hold and until when; an AVAILABLE one has neither.
    CONSTRAINT "seats_status_consistent" CHECK (
        ("status" = 'AVAILABLE' AND "held_until" IS NULL AND "reservation_id" IS NULL)
        OR ("status" = 'HELD' AND "held_until" IS NOT NULL AND "reservation_id" IS NOT NULL)
        OR ("status" = 'SOLD' AND "reservation_id" IS NOT NULL)
    ),
    CONSTRAINT "seats_concert_date_id_fkey" FOREIGN KEY ("concert_date_id") REFERENCES "concert_dates"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "seats_concert_date_id_number_key" ON "seats"("concert_date_id", "number");
-- The sweeper finds holds that ran out through this index, never by a scan.
CREATE INDEX "seats_held_until_idx" ON "seats"("held_until") WHERE "status" = 'HELD';

CREATE TABLE "reservations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "concert_id" UUID NOT NULL,
    "concert_date_id" UUID NOT NULL,
    "queue_token" TEXT NOT NULL,
    "total_price" INTEGER NOT NULL,
    "status" "ReservationStatus" NOT NULL DEFAULT 'HELD',
    "held_until" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "reservations_total_price_positive" CHECK ("total_price" > 0),
    CONSTRAINT "reservations_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "reservations_concert_id_fkey" FOREIGN KEY ("concert_id") REFERENCES "concerts"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "reservations_concert_date_id_fkey" FOREIGN KEY ("concert_date_id") REFERENCES "concert_dates"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "reservations_user_id_created_at_idx" ON "reservations"("user_id", "created_at" DESC);
-- One HELD reservation per user and concert: two simultaneous holds cannot both commit.
CREATE UNIQUE INDEX "reservations_one_hold_per_user_concert" ON "reservations"("user_id", "concert_id") WHERE "status" = 'HELD';
CREATE INDEX "reservations_held_until_idx" ON "reservations"("held_until") WHERE "status" = 'HELD';

ALTER TABLE "seats" ADD CONSTRAINT "seats_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "reservations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

CREATE TABLE "reservation_seats" (
    "reservation_id" UUID NOT NULL,
    "seat_id" UUID NOT NULL,
    "seat_number" INTEGER NOT NULL,
    "price" INTEGER NOT NULL,
    CONSTRAINT "reservation_seats_pkey" PRIMARY KEY ("reservation_id", "seat_id"),
    CONSTRAINT "reservation_seats_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "reservations"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "reservation_seats_seat_id_fkey" FOREIGN KEY ("seat_id") REFERENCES "seats"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "reservation_seats_seat_id_idx" ON "reservation_seats"("seat_id");

CREATE TABLE "payments" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "reservation_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "amount" INTEGER NOT NULL,
    "status" "PaymentStatus" NOT NULL DEFAULT 'PENDING',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paid_at" TIMESTAMPTZ(3),
    CONSTRAINT "payments_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "payments_amount_positive" CHECK ("amount" > 0),
    CONSTRAINT "payments_paid_when_completed" CHECK (("status" = 'COMPLETED') = ("paid_at" IS NOT NULL)),
    CONSTRAINT "payments_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "reservations"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "payments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
-- One payment per reservation: a reservation can never be paid twice.
CREATE UNIQUE INDEX "payments_reservation_id_key" ON "payments"("reservation_id");
CREATE INDEX "payments_user_id_paid_at_idx" ON "payments"("user_id", "paid_at" DESC);

CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" "LedgerKind" NOT NULL,
    "amount" INTEGER NOT NULL,
    "balance_after" INTEGER NOT NULL,
    "payment_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ledger_entries_sign_matches_kind" CHECK (
        ("kind" = 'CHARGE' AND "amount" > 0) OR ("kind" = 'PAYMENT' AND "amount" < 0)
    ),
    CONSTRAINT "ledger_entries_balance_after_not_negative" CHECK ("balance_after" >= 0),
    CONSTRAINT "ledger_entries_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ledger_entries_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "ledger_entries_user_id_id_idx" ON "ledger_entries"("user_id", "id" DESC);
-- A payment writes exactly one ledger entry.
CREATE UNIQUE INDEX "ledger_entries_payment_id_key" ON "ledger_entries"("payment_id") WHERE "payment_id" IS NOT NULL;

CREATE TABLE "idempotency_keys" (
    "user_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("user_id", "key"),
    CONSTRAINT "idempotency_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

CREATE TABLE "queue_policies" (
    "concert_id" UUID NOT NULL,
    "max_active_users" INTEGER NOT NULL,
    "admit_per_second" INTEGER NOT NULL,
    "active_session_seconds" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "queue_policies_pkey" PRIMARY KEY ("concert_id"),
    CONSTRAINT "queue_policies_positive" CHECK ("max_active_users" > 0 AND "admit_per_second" > 0 AND "active_session_seconds" > 0),
    CONSTRAINT "queue_policies_concert_id_fkey" FOREIGN KEY ("concert_id") REFERENCES "concerts"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
