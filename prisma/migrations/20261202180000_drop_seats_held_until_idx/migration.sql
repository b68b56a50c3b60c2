-- No statement finds seats by held_until: the sweeper finds the holds that ran
-- out in reservations (reservations_held_until_idx), and their seats through
-- reservation_seats. This index was only written (an entry for every seat held)
-- and misread: with a condition `status = 'HELD'`, the planner took it for a
-- small set and walked every HELD seat of the database for each pay
-- (BENCHMARKS.md, sixth stop; ticket_pay.sql no longer asks for it either).
DROP INDEX IF EXISTS seats_held_until_idx;
