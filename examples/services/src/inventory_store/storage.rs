//! The inventory's tables and the statements over them. Each function takes a connection or
//! an open transaction; `inventory_store.rs` decides what runs together in one transaction,
//! and what the results mean to a caller.
//!
//! Invariants the schema enforces, beside what the code keeps: a warehouse never holds more
//! reserved units than it has on hand, nor a negative count (the `CHECK`s), and one
//! idempotency key names one reservation (`UNIQUE`).

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Result, params};

use crate::db::{nanos, time};

/// Created when missing. Tables are prefixed so that the inventory can share a file with the
/// order desk's tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inventory_skus (
    sku TEXT PRIMARY KEY,
    -- Unix nanoseconds of the last change of its stock.
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inventory_stock (
    sku TEXT NOT NULL REFERENCES inventory_skus (sku),
    warehouse_id TEXT NOT NULL,
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved BETWEEN 0 AND on_hand),
    PRIMARY KEY (sku, warehouse_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inventory_stock_by_warehouse ON inventory_stock (warehouse_id);
CREATE TABLE IF NOT EXISTS inventory_reservations (
    -- The reservation id is `res_` and this in hex.
    seq INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    -- NULL when the request had none.
    idempotency_key TEXT UNIQUE,
    -- Unix nanoseconds, on the store's clock.
    expires_at INTEGER NOT NULL,
    open INTEGER NOT NULL CHECK (open IN (0, 1))
);
CREATE INDEX IF NOT EXISTS inventory_reservations_to_sweep
    ON inventory_reservations (expires_at) WHERE open = 1;
-- This store's tag, random, made once: it is in every reservation id the store gives out, so
-- that the ids of two inventories (each numbering its own) never name each other's.
CREATE TABLE IF NOT EXISTS inventory_store (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    tag TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory_holds (
    reservation INTEGER NOT NULL REFERENCES inventory_reservations (seq),
    sku TEXT NOT NULL,
    warehouse_id TEXT NOT NULL,
    units INTEGER NOT NULL CHECK (units > 0),
    PRIMARY KEY (reservation, sku, warehouse_id)
) WITHOUT ROWID;
";

/// The store's tag, made (from `fresh`) and kept the first time it is asked for.
pub(super) fn store_tag(db: &Connection, fresh: impl FnOnce() -> String) -> Result<String> {
    if let Some(tag) = db
        .query_row(
            "SELECT tag FROM inventory_store WHERE only = 1",
            [],
            |row| row.get(0),
        )
        .optional()?
    {
        return Ok(tag);
    }
    let tag = fresh();
    db.execute(
        "INSERT INTO inventory_store (only, tag) VALUES (1, ?1)",
        params![tag],
    )?;
    Ok(tag)
}

/// Units of one SKU in one warehouse, or summed over several.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Level {
    pub(super) on_hand: i64,
    pub(super) reserved: i64,
}

impl Level {
    pub(super) fn available(self) -> i64 {
        self.on_hand - self.reserved
    }
}

/// A reservation as `ReserveItems` answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reservation {
    pub(super) seq: i64,
    pub(super) expires_at: SystemTime,
}

/// When the stock of `sku` last changed; `None` for a SKU never counted.
pub(super) fn sku_updated_at(db: &Connection, sku: &str) -> Result<Option<SystemTime>> {
    db.prepare_cached("SELECT updated_at FROM inventory_skus WHERE sku = ?1")?
        .query_row([sku], |row| row.get(0))
        .optional()
        .map(|updated_at| updated_at.map(time))
}

/// Records that the stock of `sku` changed at `now`, adding the SKU if it is new.
pub(super) fn touch_sku(db: &Connection, sku: &str, now: SystemTime) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO inventory_skus (sku, updated_at) VALUES (?1, ?2)
         ON CONFLICT (sku) DO UPDATE SET updated_at = excluded.updated_at",
    )?
    .execute(params![sku, nanos(now)])?;
    Ok(())
}

/// Whether any SKU was ever counted in `warehouse_id`.
pub(super) fn is_warehouse(db: &Connection, warehouse_id: &str) -> Result<bool> {
    db.prepare_cached("SELECT 1 FROM inventory_stock WHERE warehouse_id = ?1 LIMIT 1")?
        .exists([warehouse_id])
}

/// The units of `sku` in every warehouse, or in `warehouse_id` only.
pub(super) fn totals(db: &Connection, sku: &str, warehouse_id: Option<&str>) -> Result<Level> {
    db.prepare_cached(
        "SELECT COALESCE(SUM(on_hand), 0), COALESCE(SUM(reserved), 0) FROM inventory_stock
         WHERE sku = ?1 AND (?2 IS NULL OR warehouse_id = ?2)",
    )?
    .query_row(params![sku, warehouse_id], |row| {
        Ok(Level {
            on_hand: row.get(0)?,
            reserved: row.get(1)?,
        })
    })
}

/// The units of `sku` per warehouse, in warehouse name order: the order reservations take
/// units in.
pub(super) fn levels(db: &Connection, sku: &str) -> Result<Vec<(String, Level)>> {
    let mut statement = db.prepare_cached(
        "SELECT warehouse_id, on_hand, reserved FROM inventory_stock
         WHERE sku = ?1 ORDER BY warehouse_id",
    )?;
    let rows = statement.query_map([sku], |row| {
        let level = Level {
            on_hand: row.get(1)?,
            reserved: row.get(2)?,
        };
        Ok((row.get(0)?, level))
    })?;
    rows.collect()
}

/// Sets the units of `sku` on hand in `warehouse_id`, keeping those reserved there.
pub(super) fn set_on_hand(
    db: &Connection,
    sku: &str,
    warehouse_id: &str,
    on_hand: i64,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO inventory_stock (sku, warehouse_id, on_hand) VALUES (?1, ?2, ?3)
         ON CONFLICT (sku, warehouse_id) DO UPDATE SET on_hand = excluded.on_hand",
    )?
    .execute(params![sku, warehouse_id, on_hand])?;
    Ok(())
}

/// Adds `units` (negative to give them back) to the units reserved of `sku` in `warehouse_id`.
fn add_reserved(db: &Connection, sku: &str, warehouse_id: &str, units: i64) -> Result<()> {
    db.prepare_cached(
        "UPDATE inventory_stock SET reserved = reserved + ?3
         WHERE sku = ?1 AND warehouse_id = ?2",
    )?
    .execute(params![sku, warehouse_id, units])?;
    Ok(())
}

/// The reservation made under idempotency key `key`.
pub(super) fn reservation_by_key(db: &Connection, key: &str) -> Result<Option<Reservation>> {
    db.prepare_cached(
        "SELECT seq, expires_at FROM inventory_reservations WHERE idempotency_key = ?1",
    )?
    .query_row([key], |row| {
        Ok(Reservation {
            seq: row.get(0)?,
            expires_at: time(row.get(1)?),
        })
    })
    .optional()
}

/// Whether reservation `seq` holds its units; `None` when there is no such reservation.
pub(super) fn is_open(db: &Connection, seq: i64) -> Result<Option<bool>> {
    db.prepare_cached("SELECT open FROM inventory_reservations WHERE seq = ?1")?
        .query_row([seq], |row| row.get(0))
        .optional()
}

/// Records an open reservation without holds yet; its number.
pub(super) fn insert_reservation(
    db: &Connection,
    order_id: &str,
    key: Option<&str>,
    expires_at: SystemTime,
) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO inventory_reservations (order_id, idempotency_key, expires_at, open)
         VALUES (?1, ?2, ?3, 1)",
    )?
    .execute(params![order_id, key, nanos(expires_at)])?;
    Ok(db.last_insert_rowid())
}

/// Holds `units` of `sku` in `warehouse_id` for reservation `seq`.
pub(super) fn hold(
    db: &Connection,
    seq: i64,
    sku: &str,
    warehouse_id: &str,
    units: i64,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO inventory_holds (reservation, sku, warehouse_id, units)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![seq, sku, warehouse_id, units])?;
    add_reserved(db, sku, warehouse_id, units)
}

/// Gives the units of open reservation `seq` back and closes it; the SKUs it held, in name
/// order. The holds are kept, so the reservation still says what it was.
pub(super) fn close(db: &Connection, seq: i64) -> Result<Vec<String>> {
    let closed = db
        .prepare_cached("UPDATE inventory_reservations SET open = 0 WHERE seq = ?1 AND open = 1")?
        .execute([seq])?;
    if closed == 0 {
        return Ok(Vec::new());
    }
    let holds: Vec<(String, String, i64)> = db
        .prepare_cached(
            "SELECT sku, warehouse_id, units FROM inventory_holds
             WHERE reservation = ?1 ORDER BY sku, warehouse_id",
        )?
        .query_map([seq], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_>>()?;
    let mut skus: Vec<String> = Vec::new();
    for (sku, warehouse_id, units) in holds {
        add_reserved(db, &sku, &warehouse_id, -units)?;
        if skus.last() != Some(&sku) {
            skus.push(sku);
        }
    }
    Ok(skus)
}

/// The open reservations whose time to live is over at `now`, first to lapse first.
pub(super) fn lapsed(db: &Connection, now: SystemTime) -> Result<Vec<i64>> {
    // Ordered by expiry so that SQLite walks the partial index of open reservations: ordered
    // by `seq`, it scans every reservation ever made instead, on every call that sweeps.
    db.prepare_cached(
        "SELECT seq FROM inventory_reservations
         WHERE open = 1 AND expires_at <= ?1 ORDER BY expires_at, seq",
    )?
    .query_map([nanos(now)], |row| row.get(0))?
    .collect()
}
