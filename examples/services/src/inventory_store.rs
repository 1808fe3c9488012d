//! An implementation of `InventoryService` kept in SQLite: units on hand per SKU and
//! warehouse, reservations that hold units for an order until they are released or lapse, and
//! a watch stream of the available quantities. [`InventoryStore::new`] keeps everything in
//! memory; [`InventoryStore::open`] in a file, which a restarted process opens again to find
//! every stock level and reservation as it was.
//!
//! Every call runs under the store's one connection (`db.rs` says why one is enough), and every change in one `IMMEDIATE` transaction: a reservation is
//! all-or-nothing and stock is never oversold, because the check and the hold happen in the
//! transaction that holds the write lock. Changes are broadcast after the commit, still under
//! the lock, so watchers see them in the order they happened; the broadcast itself stays in
//! memory. Reservations lapse after a time to live (15 minutes unless configured); lapsed
//! ones are swept by the next call that changes stock. Released and lapsed reservations are
//! kept, so that releasing one again answers `released: false` and its idempotency key still
//! finds it.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, TransactionBehavior};
use rust_svc_runtime::wkt::timestamp;
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::db::{self, Location, StorageError};
use crate::errors::{invalid, refused};
use crate::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockState, StockUpdate,
    WatchStockLevelsRequest,
};
use crate::watch::{Watcher, watch};

mod storage;

use self::storage as sql;

/// How long a reservation holds its units unless configured otherwise.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);
/// At or below this many available units a SKU is `STOCK_STATE_LOW`.
pub const LOW_STOCK_THRESHOLD: i64 = 5;
/// Most SKUs one `WatchStockLevels` call may watch.
pub const MAX_WATCHED_SKUS: usize = 100;
/// Changes a watcher may fall behind by before it is sent the levels again.
const WATCH_BUFFER: usize = 1024;
/// Reservation ids are `res_`, the store's tag and a number (`res_1f2e3d4c_0000002a`); stores
/// made before tags gave out `res_` and the number, which they still take.
const RESERVATION: &str = "res";

/// The inventory: cheap to clone, clones share the same stock.
#[derive(Debug, Clone)]
pub struct InventoryStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: Mutex<Connection>,
    /// In every reservation id (see [`RESERVATION`]).
    tag: String,
    changes: broadcast::Sender<StockUpdate>,
    reservation_ttl: Duration,
    clock: Clock,
}

/// The wall clock, moving with tokio's: reservations lapse on it and are stored with it, so a
/// store reopened after a restart compares stored expiry times with the wall clock, while a
/// test with paused tokio time still makes them lapse by advancing time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    wall: SystemTime,
    tokio: Instant,
}

impl Clock {
    fn start() -> Self {
        Self {
            wall: SystemTime::now(),
            tokio: Instant::now(),
        }
    }

    fn now(self) -> SystemTime {
        self.wall + self.tokio.elapsed()
    }
}

impl Default for InventoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InventoryStore {
    /// An inventory in memory with nothing in stock and the default reservation time to live.
    pub fn new() -> Self {
        Self::with_reservation_ttl(DEFAULT_RESERVATION_TTL)
    }

    /// An empty inventory in memory whose reservations lapse after `ttl`.
    pub fn with_reservation_ttl(ttl: Duration) -> Self {
        Self::over(db::open_in_memory(sql::SCHEMA), ttl)
            .unwrap_or_else(|error| panic!("an in-memory inventory always opens: {error}"))
    }

    /// The inventory kept in the SQLite file at `path`, created (with its tables) when
    /// missing, with the default reservation time to live. Another store may keep its tables
    /// in the same file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let db = db::open(Location::File(path.as_ref()), sql::SCHEMA)?;
        Self::over(db, DEFAULT_RESERVATION_TTL)
            .map_err(|error| StorageError::new(path.as_ref(), error))
    }

    fn over(db: Connection, reservation_ttl: Duration) -> rusqlite::Result<Self> {
        let tag = sql::store_tag(&db, || {
            // `RandomState` is seeded randomly per process; the clock keeps two stores of one
            // process apart.
            let random = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
            format!("{:08x}", random as u32)
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                db: Mutex::new(db),
                tag,
                changes: broadcast::channel(WATCH_BUFFER).0,
                reservation_ttl,
                clock: Clock::start(),
            }),
        })
    }

    /// The id of reservation `seq`.
    fn reservation_id(&self, seq: i64) -> String {
        db::id(&format!("{RESERVATION}_{}", self.shared.tag), seq)
    }

    /// The reservation `id` names, if this store gave it out.
    fn reservation_seq(&self, id: &str) -> Option<i64> {
        db::seq(&format!("{RESERVATION}_{}", self.shared.tag), id)
            .or_else(|| db::seq(RESERVATION, id))
    }

    /// Records a stock count: `warehouse` has `on_hand` units of `sku`, some of which may be
    /// reserved. Fails when the count is negative or below the units reserved there.
    pub fn set_on_hand(&self, warehouse: &str, sku: &str, on_hand: i64) -> Result<(), Status> {
        if warehouse.is_empty() {
            return Err(invalid("warehouse_id", "required"));
        }
        if sku.is_empty() {
            return Err(invalid("sku", "required"));
        }
        // Counts fit the `int32` fields they are reported in; sums over warehouses fit `i64`.
        if !(0..=i64::from(i32::MAX)).contains(&on_hand) {
            return Err(invalid(
                "on_hand",
                format!("must be between 0 and {}, got {on_hand}", i32::MAX),
            ));
        }
        self.change(|db, touched| {
            let reserved = sql::totals(db, sku, Some(warehouse)).map_err(failed)?.reserved;
            if on_hand < reserved {
                return Err(refused(
                    "STOCK",
                    sku,
                    format!(
                        "{reserved} units are reserved in {warehouse}; cannot count {on_hand} on hand"
                    ),
                ));
            }
            sql::touch_sku(db, sku, SystemTime::now()).map_err(failed)?;
            sql::set_on_hand(db, sku, warehouse, on_hand).map_err(failed)?;
            touched.push(sku.to_owned());
            Ok(())
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.shared
            .db
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` in one write transaction, after sweeping lapsed reservations, and
    /// commits when it succeeds; then tells the watchers of every SKU it (or the sweep)
    /// touched. A change that fails rolls back, the sweep with it: the next one sweeps again.
    fn change<T>(
        &self,
        change: impl FnOnce(&Connection, &mut Vec<String>) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let mut db = self.lock();
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let mut touched = sweep(&tx, self.shared.clock.now())?;
        let value = change(&tx, &mut touched)?;
        tx.commit().map_err(failed)?;
        touched.sort();
        touched.dedup();
        for sku in &touched {
            // Nobody watching is not an error; a level that cannot be read is not announced,
            // and a watcher that missed it catches up with the next change.
            if let Ok(update) = update_of(&db, sku) {
                let _ = self.shared.changes.send(update);
            }
        }
        Ok(value)
    }
}

/// Returns the units of every reservation that has lapsed by `now`; the SKUs touched.
fn sweep(db: &Connection, now: SystemTime) -> Result<Vec<String>, Status> {
    let mut touched = Vec::new();
    for seq in sql::lapsed(db, now).map_err(failed)? {
        touched.extend(release(db, seq)?);
    }
    Ok(touched)
}

/// Closes reservation `seq` if it is open, marking its SKUs changed; the SKUs it held.
fn release(db: &Connection, seq: i64) -> Result<Vec<String>, Status> {
    let skus = sql::close(db, seq).map_err(failed)?;
    let now = SystemTime::now();
    for sku in &skus {
        sql::touch_sku(db, sku, now).map_err(failed)?;
    }
    Ok(skus)
}

/// The current level of `sku`, as watchers are told it.
fn update_of(db: &Connection, sku: &str) -> rusqlite::Result<StockUpdate> {
    Ok(StockUpdate {
        sku: sku.to_owned(),
        available: saturate(sql::totals(db, sku, None)?.available()),
        at: Some(timestamp(SystemTime::now())),
    })
}

fn failed(error: rusqlite::Error) -> Status {
    db::failed("inventory")(error)
}

/// An `i32` field's value for a count kept in `i64` (warehouses' counts add up).
fn saturate(count: i64) -> i32 {
    i32::try_from(count).unwrap_or(if count < 0 { i32::MIN } else { i32::MAX })
}

fn stock_state(available: i64) -> StockState {
    match available {
        ..=0 => StockState::OutOfStock,
        1..=LOW_STOCK_THRESHOLD => StockState::Low,
        _ => StockState::InStock,
    }
}

impl InventoryService for InventoryStore {
    async fn check_stock(
        &self,
        _ctx: &Context,
        request: CheckStockRequest,
    ) -> Result<CheckStockResponse, Status> {
        if request.sku.is_empty() {
            return Err(invalid("sku", "required"));
        }
        let db = self.lock();
        let warehouse = match request.warehouse_id.as_str() {
            "" => None,
            name if sql::is_warehouse(&db, name).map_err(failed)? => Some(name),
            unknown => return Err(Status::not_found(format!("warehouse {unknown} not found"))),
        };
        let Some(updated_at) = sql::sku_updated_at(&db, &request.sku).map_err(failed)? else {
            return Err(Status::not_found(format!("SKU {} not found", request.sku)));
        };
        let totals = sql::totals(&db, &request.sku, warehouse).map_err(failed)?;
        Ok(CheckStockResponse {
            available: saturate(totals.available()),
            reserved: saturate(totals.reserved),
            updated_at: Some(timestamp(updated_at)),
            state: stock_state(totals.available()).into(),
            sku: request.sku,
        })
    }

    async fn reserve_items(
        &self,
        _ctx: &Context,
        request: ReserveItemsRequest,
    ) -> Result<ReserveItemsResponse, Status> {
        validate_reservation(&request)?;
        let key = Some(request.idempotency_key.as_str()).filter(|key| !key.is_empty());
        let reserved = self.change(|db, touched| {
            if let Some(key) = key
                && let Some(existing) = sql::reservation_by_key(db, key).map_err(failed)?
            {
                return Ok(existing);
            }
            // All or nothing: check every line before holding any unit.
            for item in &request.items {
                let available = sql::totals(db, &item.sku, None)
                    .map_err(failed)?
                    .available();
                if available < i64::from(item.quantity) {
                    return Err(refused(
                        "STOCK",
                        &item.sku,
                        format!("{available} available, {} requested", item.quantity),
                    ));
                }
            }
            let expires_at = self.shared.clock.now() + self.shared.reservation_ttl;
            let seq =
                sql::insert_reservation(db, &request.order_id, key, expires_at).map_err(failed)?;
            let now = SystemTime::now();
            for item in &request.items {
                let mut wanted = i64::from(item.quantity);
                for (warehouse, level) in sql::levels(db, &item.sku).map_err(failed)? {
                    let units = wanted.min(level.available());
                    if units > 0 {
                        sql::hold(db, seq, &item.sku, &warehouse, units).map_err(failed)?;
                        wanted -= units;
                    }
                }
                sql::touch_sku(db, &item.sku, now).map_err(failed)?;
                touched.push(item.sku.clone());
            }
            Ok(sql::Reservation { seq, expires_at })
        })?;
        Ok(ReserveItemsResponse {
            reservation_id: self.reservation_id(reserved.seq),
            expires_at: Some(timestamp(reserved.expires_at)),
        })
    }

    async fn release_reservation(
        &self,
        _ctx: &Context,
        request: ReleaseReservationRequest,
    ) -> Result<ReleaseReservationResponse, Status> {
        let id = request.reservation_id;
        if id.is_empty() {
            return Err(invalid("reservation_id", "required"));
        }
        let not_found = || Status::not_found(format!("reservation {id} not found"));
        // Another inventory's id is not found here: each store names its own reservations.
        let seq = self.reservation_seq(&id).ok_or_else(not_found)?;
        self.change(|db, touched| {
            // Read after the sweep: a reservation that just lapsed is no longer open.
            let open = sql::is_open(db, seq)
                .map_err(failed)?
                .ok_or_else(not_found)?;
            if open {
                touched.extend(release(db, seq)?);
            }
            Ok(ReleaseReservationResponse { released: open })
        })
    }

    async fn watch_stock_levels(
        &self,
        _ctx: &Context,
        request: WatchStockLevelsRequest,
    ) -> Result<BoxStream<StockUpdate>, Status> {
        let skus = request.skus;
        if skus.is_empty() {
            return Err(invalid("skus", "name at least one SKU to watch"));
        }
        if skus.len() > MAX_WATCHED_SKUS {
            return Err(invalid(
                "skus",
                format!(
                    "at most {MAX_WATCHED_SKUS} SKUs per watch, got {}",
                    skus.len()
                ),
            ));
        }
        let mut watched = Vec::new();
        let mut seen = HashSet::new();
        let (changes, initial) = {
            let db = self.lock();
            for (index, sku) in skus.into_iter().enumerate() {
                if sku.is_empty() {
                    return Err(invalid(&format!("skus[{index}]"), "must not be empty"));
                }
                if sql::sku_updated_at(&db, &sku).map_err(failed)?.is_none() {
                    return Err(Status::not_found(format!("SKU {sku} not found")));
                }
                if seen.insert(sku.clone()) {
                    watched.push(sku);
                }
            }
            // Subscribed under the lock that the initial levels are read under: no change is
            // missed between the two, and none is seen twice.
            let changes = self.shared.changes.subscribe();
            let initial = watched
                .iter()
                .map(|sku| update_of(&db, sku))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            (changes, initial)
        };
        let watcher = StockWatcher {
            store: self.clone(),
            watched,
            seen,
        };
        Ok(watch(initial, changes, watcher))
    }
}

/// One `WatchStockLevels` call: its SKUs in request order, and as a set.
struct StockWatcher {
    store: InventoryStore,
    watched: Vec<String>,
    seen: HashSet<String>,
}

impl Watcher for StockWatcher {
    type Change = StockUpdate;
    type Item = StockUpdate;

    fn on_change(&mut self, update: StockUpdate) -> Option<StockUpdate> {
        self.seen.contains(&update.sku).then_some(update)
    }

    fn on_lag(&mut self) -> Vec<StockUpdate> {
        let db = self.store.lock();
        // A level that cannot be read now is sent with the next change of its SKU.
        self.watched
            .iter()
            .filter_map(|sku| update_of(&db, sku).ok())
            .collect()
    }
}

/// A reservation request's own errors, found before the stock is looked at.
fn validate_reservation(request: &ReserveItemsRequest) -> Result<(), Status> {
    if request.order_id.is_empty() {
        return Err(invalid("order_id", "required"));
    }
    if request.items.is_empty() {
        return Err(invalid("items", "reserve at least one item"));
    }
    let mut skus = HashSet::new();
    for (index, item) in request.items.iter().enumerate() {
        if item.sku.is_empty() {
            return Err(invalid(&format!("items[{index}].sku"), "required"));
        }
        if item.quantity < 1 {
            return Err(invalid(
                &format!("items[{index}].quantity"),
                format!("must be at least 1, got {}", item.quantity),
            ));
        }
        if !skus.insert(item.sku.as_str()) {
            return Err(invalid(
                &format!("items[{index}].sku"),
                format!("{} appears more than once", item.sku),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "inventory_store_tests.rs"]
mod tests;
