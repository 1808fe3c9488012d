//! The order book: placed orders and their line items in SQLite, and the drafts of
//! `UploadOrderItems` in memory.
//!
//! Drafts stay in memory because nothing can use them after a restart: no rpc reads or places
//! a draft, only [`OrderDesk::draft`](super::OrderDesk::draft) does, in-process. They would
//! go to a table of their own once an rpc turns a draft into an order.
//!
//! What a reader may rely on: an order's id is `ord_` and its row number in hex, so ids are
//! given out in sequence and continue after the highest stored one when a file is reopened;
//! one idempotency key names at most one order (`UNIQUE`, checked and written in one
//! `IMMEDIATE` transaction, so that holds even between processes sharing a file); and a change
//! applies only to the revision it was computed from (`save`), so concurrent changes never
//! lose one another. The ids are counted in this process: two desks on one file would hand out
//! the same id, and the second to insert it would fail, so a file has one desk.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Result, Row, TransactionBehavior, params};
use rust_svc_runtime::wkt::Timestamp;

use super::Placed;
use crate::db;
use crate::orders::v1::{LineItem, Order};

/// Order ids are `ord_` and a number; draft ids `drf_` and a number from the same count.
const ORDER: &str = "ord";

/// Created when missing. Tables are prefixed so that the order desk can share a file with the
/// inventory's tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    -- The order id is `ord_` and this in hex; also the placement order.
    seq INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    created_at_seconds INTEGER NOT NULL,
    created_at_nanos INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    -- Bumped by every change.
    revision INTEGER NOT NULL,
    cancel_reason TEXT NOT NULL,
    -- NULL when `CreateOrder` had none.
    idempotency_key TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, seq);
CREATE TABLE IF NOT EXISTS orders_line_items (
    order_seq INTEGER NOT NULL REFERENCES orders (seq),
    position INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_seq, position)
) WITHOUT ROWID;
";

const COLUMNS: &str = "seq, customer_id, status, created_at_seconds, created_at_nanos, \
    total_cents, currency, assignment_id, reservation_id, revision, cancel_reason";

/// Which way [`Book::scan`] goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scan {
    /// Placement order, as followers are told.
    OldestFirst,
    /// As `ListOrders` answers.
    NewestFirst,
}

/// What [`Book::insert`] did.
#[derive(Debug)]
pub(super) enum Inserted {
    /// The order is placed.
    New,
    /// Another call with the same idempotency key placed this order first; nothing was written.
    Existing(Order),
}

/// The orders, behind the desk's one lock (see `db.rs` for why one connection is enough).
#[derive(Debug)]
pub(super) struct Book {
    db: Connection,
    /// The last number given to an order or draft.
    last_id: i64,
    /// Draft orders of `UploadOrderItems`, by id: line items not yet placed.
    drafts: HashMap<String, Vec<LineItem>>,
}

impl Book {
    /// The book kept in `db`, whose tables exist; ids continue after the highest stored one.
    pub(super) fn over(db: Connection) -> Result<Self> {
        let last_id = db.query_row("SELECT COALESCE(MAX(seq), 0) FROM orders", [], |row| {
            row.get(0)
        })?;
        Ok(Self {
            db,
            last_id,
            drafts: HashMap::new(),
        })
    }

    /// The id of the next order (or draft, with `prefix` `drf`).
    pub(super) fn next_id(&mut self, prefix: &str) -> String {
        self.last_id += 1;
        db::id(prefix, self.last_id)
    }

    /// The order `order_id` with everything the desk keeps about it.
    pub(super) fn find(&self, order_id: &str) -> Result<Option<Placed>> {
        let Some(seq) = db::seq(ORDER, order_id) else {
            return Ok(None);
        };
        let sql = format!("SELECT {COLUMNS} FROM orders WHERE seq = ?1");
        let placed = self
            .db
            .prepare_cached(&sql)?
            .query_row([seq], placed)
            .optional()?;
        placed.map(|placed| self.with_items(placed)).transpose()
    }

    /// The order a `CreateOrder` with idempotency key `key` placed.
    pub(super) fn order_by_key(&self, key: &str) -> Result<Option<Order>> {
        let sql = format!("SELECT {COLUMNS} FROM orders WHERE idempotency_key = ?1");
        let placed = self
            .db
            .prepare_cached(&sql)?
            .query_row([key], placed)
            .optional()?;
        placed
            .map(|placed| Ok(self.with_items(placed)?.order))
            .transpose()
    }

    /// Whether `customer_id` placed any order.
    pub(super) fn has_customer(&self, customer_id: &str) -> Result<bool> {
        self.db
            .prepare_cached("SELECT 1 FROM orders WHERE customer_id = ?1 LIMIT 1")?
            .exists([customer_id])
    }

    /// Places `placed` (whose id [`Book::next_id`] gave out) with its idempotency key, unless
    /// the key already placed an order.
    pub(super) fn insert(&mut self, placed: &Placed, key: Option<&str>) -> Result<Inserted> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(key) = key {
            let sql = format!("SELECT {COLUMNS} FROM orders WHERE idempotency_key = ?1");
            let existing = tx
                .prepare_cached(&sql)?
                .query_row([key], self::placed)
                .optional()?;
            if let Some(existing) = existing {
                drop(tx);
                return Ok(Inserted::Existing(self.with_items(existing)?.order));
            }
        }
        let order = &placed.order;
        let seq = seq_of(order)?;
        let created_at = order.created_at.unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO orders (seq, customer_id, status, created_at_seconds, created_at_nanos,
                total_cents, currency, assignment_id, reservation_id, revision, cancel_reason,
                idempotency_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            seq,
            order.customer_id,
            order.status,
            created_at.seconds,
            created_at.nanos,
            order.total_cents,
            order.currency,
            order.assignment_id,
            placed.reservation_id,
            placed.revision,
            placed.cancel_reason,
            key,
        ])?;
        write_items(&tx, seq, &order.items)?;
        tx.commit()?;
        Ok(Inserted::New)
    }

    /// Writes `placed` over the stored order if that is still at revision `read_at`, the one
    /// the change was computed from; false (and nothing written) if another change came first.
    /// Its id, creation time and idempotency key never change.
    pub(super) fn save(&mut self, placed: &Placed, read_at: i64) -> Result<bool> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let order = &placed.order;
        let seq = seq_of(order)?;
        let saved = tx
            .prepare_cached(
                "UPDATE orders SET customer_id = ?2, status = ?3, total_cents = ?4,
                    currency = ?5, assignment_id = ?6, reservation_id = ?7, revision = ?8,
                    cancel_reason = ?9
                 WHERE seq = ?1 AND revision = ?10",
            )?
            .execute(params![
                seq,
                order.customer_id,
                order.status,
                order.total_cents,
                order.currency,
                order.assignment_id,
                placed.reservation_id,
                placed.revision,
                placed.cancel_reason,
                read_at,
            ])?;
        if saved == 0 {
            return Ok(false);
        }
        tx.prepare_cached("DELETE FROM orders_line_items WHERE order_seq = ?1")?
            .execute([seq])?;
        write_items(&tx, seq, &order.items)?;
        tx.commit()?;
        Ok(true)
    }

    /// Shows `visit` the orders in `scan` order, without their items (see
    /// [`Book::with_items`]), until it returns false.
    pub(super) fn scan(&self, scan: Scan, mut visit: impl FnMut(Order) -> bool) -> Result<()> {
        let direction = match scan {
            Scan::OldestFirst => "ASC",
            Scan::NewestFirst => "DESC",
        };
        let sql = format!("SELECT {COLUMNS} FROM orders ORDER BY seq {direction}");
        let mut statement = self.db.prepare_cached(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            if !visit(placed(row)?.order) {
                break;
            }
        }
        Ok(())
    }

    /// `order` with its line items read in.
    pub(super) fn items_of(&self, mut order: Order) -> Result<Order> {
        order.items = self
            .db
            .prepare_cached(
                "SELECT sku, quantity, unit_price_cents FROM orders_line_items
                 WHERE order_seq = ?1 ORDER BY position",
            )?
            .query_map([seq_of(&order)?], |row| {
                Ok(LineItem {
                    sku: row.get(0)?,
                    quantity: row.get(1)?,
                    unit_price_cents: row.get(2)?,
                })
            })?
            .collect::<Result<_>>()?;
        Ok(order)
    }

    fn with_items(&self, mut placed: Placed) -> Result<Placed> {
        placed.order = self.items_of(placed.order)?;
        Ok(placed)
    }

    /// Keeps a draft of `UploadOrderItems`; its id.
    pub(super) fn add_draft(&mut self, items: Vec<LineItem>) -> String {
        let draft_id = self.next_id("drf");
        self.drafts.insert(draft_id.clone(), items);
        draft_id
    }

    /// The line items of draft `draft_id`.
    pub(super) fn draft(&self, draft_id: &str) -> Option<Vec<LineItem>> {
        self.drafts.get(draft_id).cloned()
    }
}

/// An order as a row has it, items not read yet.
fn placed(row: &Row<'_>) -> Result<Placed> {
    let seq: i64 = row.get(0)?;
    let order = Order {
        order_id: db::id(ORDER, seq),
        customer_id: row.get(1)?,
        items: Vec::new(),
        status: row.get(2)?,
        created_at: Some(Timestamp {
            seconds: row.get(3)?,
            nanos: row.get(4)?,
        }),
        total_cents: row.get(5)?,
        currency: row.get(6)?,
        assignment_id: row.get(7)?,
    };
    Ok(Placed {
        order,
        reservation_id: row.get(8)?,
        revision: row.get(9)?,
        cancel_reason: row.get(10)?,
    })
}

/// The row number of an order the desk made; anything else is a bug, reported as a failed
/// statement rather than a panic.
fn seq_of(order: &Order) -> Result<i64> {
    db::seq(ORDER, &order.order_id).ok_or_else(|| {
        rusqlite::Error::InvalidParameterName(format!("order id {}", order.order_id))
    })
}

fn write_items(db: &Connection, seq: i64, items: &[LineItem]) -> Result<()> {
    let mut insert = db.prepare_cached(
        "INSERT INTO orders_line_items (order_seq, position, sku, quantity, unit_price_cents)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (position, item) in (0_i64..).zip(items) {
        insert.execute(params![
            seq,
            position,
            item.sku,
            item.quantity,
            item.unit_price_cents
        ])?;
    }
    Ok(())
}
