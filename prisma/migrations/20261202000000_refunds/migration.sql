-- Refunds (rule 21) in the v1 constraints: a REFUND ledger entry (money in, 0
-- when the fee is the whole total) is the payment's second entry, and a
-- REFUNDED payment keeps the paid_at of its sale, with what went back and when.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_sign_matches_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_sign_matches_kind CHECK (
    (kind = 'CHARGE' AND amount > 0) OR (kind = 'PAYMENT' AND amount < 0) OR (kind = 'REFUND' AND amount >= 0)
);
-- A payment writes one PAYMENT entry, and at most one REFUND entry.
DROP INDEX ledger_entries_payment_id_key;
CREATE UNIQUE INDEX ledger_entries_payment_id_kind_key ON ledger_entries (payment_id, kind) WHERE payment_id IS NOT NULL;

ALTER TABLE payments DROP CONSTRAINT payments_paid_when_completed;
ALTER TABLE payments ADD CONSTRAINT payments_paid_when_completed CHECK ((status IN ('COMPLETED', 'REFUNDED')) = (paid_at IS NOT NULL));
ALTER TABLE payments ADD CONSTRAINT payments_refunded_when_refunded CHECK (
    (status = 'REFUNDED') = (refunded_amount IS NOT NULL) AND (status = 'REFUNDED') = (refunded_at IS NOT NULL)
);
