-- A bound, not a design: one row appended to a log per write, stamped by the
-- wall clock; no deduplication, no base.
CREATE TABLE _bench_log (tbl, row_id, col, op, hlc, base);
DROP TRIGGER "_lumbung_update:person:phone";
CREATE TRIGGER "_lumbung_update:person:phone" AFTER UPDATE OF "phone" ON "person"
WHEN (SELECT applying FROM _lumbung_clock) = 0 AND OLD."phone" IS NOT NEW."phone" BEGIN INSERT INTO _bench_log VALUES ('person', NEW."id", 'phone', 2, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536, 0); END;
