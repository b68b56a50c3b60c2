-- Seats not yet SOLD, by date: whether a date (or a whole concert) has sold out
-- is one probe of this index after each sale, instead of a walk over every
-- SOLD seat of a date that is nearly sold out. Partial, so Prisma's schema
-- cannot describe it; it lives only here.
CREATE INDEX "seats_unsold_idx" ON "seats"("concert_date_id") WHERE "status" <> 'SOLD';
