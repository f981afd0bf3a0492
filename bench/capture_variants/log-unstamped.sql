-- A bound, not a design: as log-stamped.sql without any function call (no wall
-- clock), so that SQLite needs no statement journal.
CREATE TABLE _bench_log (tbl, row_id, col, op, hlc, base);
DROP TRIGGER "_lumbung_update:person:phone";
CREATE TRIGGER "_lumbung_update:person:phone" AFTER UPDATE OF "phone" ON "person"
WHEN (SELECT applying FROM _lumbung_clock) = 0 AND OLD."phone" IS NOT NEW."phone" BEGIN INSERT INTO _bench_log VALUES ('person', NEW."id", 'phone', 2, (SELECT hlc + 1 FROM _lumbung_clock), 0); END;
