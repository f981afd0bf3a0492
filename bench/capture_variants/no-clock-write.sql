-- The stamp from a read of the clock row, the wall clock and the cell's pending
-- stamp + 1; the clock row is not written.
DROP TRIGGER "_lumbung_update:person:phone";
CREATE TRIGGER "_lumbung_update:person:phone" AFTER UPDATE OF "phone" ON "person"
WHEN (SELECT applying FROM _lumbung_clock) = 0 AND OLD."phone" IS NOT NEW."phone" BEGIN INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base) VALUES ('person', NEW."id", 'phone', 2, (SELECT max(hlc + 1, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536, ifnull((SELECT hlc + 1 FROM _lumbung_outbox WHERE tbl = 'person' AND row_id = NEW."id" AND col = 'phone'), 0)) FROM _lumbung_clock), COALESCE((SELECT base FROM _lumbung_outbox WHERE tbl = 'person' AND row_id = NEW."id" AND col = 'phone'), (SELECT cursor FROM _lumbung_scope WHERE scope = NEW."village_id"), 0)); END;
