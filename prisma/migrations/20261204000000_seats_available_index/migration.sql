-- Seats still AVAILABLE, by date: after each sale ticket_pay asks whether its
-- date has one (prisma/functions/ticket_pay.sql, `available_left`). One probe of
-- this index, whose entries are written only when a seat becomes AVAILABLE (its
-- creation, a release, a refund): a hold or a pay writes none. Partial, so
-- Prisma's schema cannot describe it; it lives only here.
CREATE INDEX "seats_available_idx" ON "seats"("concert_date_id") WHERE "status" = 'AVAILABLE';
