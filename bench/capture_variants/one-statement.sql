-- Tick, then one INSERT ... SELECT joining the clock, the pending entry and the scope.
DROP TRIGGER "_lumbung_update:person:phone";
CREATE TRIGGER "_lumbung_update:person:phone" AFTER UPDATE OF "phone" ON "person"
WHEN (SELECT applying FROM _lumbung_clock) = 0 AND OLD."phone" IS NOT NEW."phone" BEGIN UPDATE _lumbung_clock SET hlc = max(hlc + 1, CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 65536); INSERT OR REPLACE INTO _lumbung_outbox (tbl, row_id, col, op, hlc, base) SELECT 'person', NEW."id", 'phone', 2, c.hlc, COALESCE(o.base, s.cursor, 0) FROM _lumbung_clock AS c LEFT JOIN _lumbung_outbox AS o ON o.tbl = 'person' AND o.row_id = NEW."id" AND o.col = 'phone' LEFT JOIN _lumbung_scope AS s ON s.scope = NEW."village_id"; END;
