-- A bound, not a design: the outbox entry stamped by the wall clock alone, no
-- clock row, no base (the floor of a keyed outbox written by a trigger).
DROP TRIGGER "_lumbung_update:person:phone";
CREATE TRIGGER "_lumbung_update:person:phone" AFTER UPDATE OF "phone" ON "person"
WHEN (SELECT applying FROM _lumbung_clock) = 0 AND OLD."phone" IS NOT NEW."phone" BEGIN INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base) VALUES ('person', NEW."id", 'phone', 2, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536, 0); END;
