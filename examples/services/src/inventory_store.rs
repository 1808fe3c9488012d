//! An in-memory implementation of `InventoryService`: units on hand per SKU and warehouse,
//! reservations that hold units for an order until they are released or lapse, and a watch
//! stream of the available quantities.
//!
//! One mutex guards the whole state, so a reservation is all-or-nothing without further care,
//! and every change is broadcast while the lock is held, so watchers see changes in the order
//! they happened. Reservations lapse after a time to live (15 minutes unless configured);
//! lapsed ones are swept by the next call that changes stock, measured on tokio's clock so
//! that paused-time tests can expire them. Released and lapsed reservations are kept, so that
//! releasing one again answers `released: false` and its idempotency key still finds it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use rust_svc_runtime::wkt::{Timestamp, timestamp};
use rust_svc_runtime::{BoxStream, Context, Status};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::errors::{invalid, refused};
use crate::inventory::v1::{
    CheckStockRequest, CheckStockResponse, InventoryService, ReleaseReservationRequest,
    ReleaseReservationResponse, ReserveItemsRequest, ReserveItemsResponse, StockState, StockUpdate,
    WatchStockLevelsRequest,
};
use crate::watch::{Watcher, watch};

/// How long a reservation holds its units unless configured otherwise.
pub const DEFAULT_RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);
/// At or below this many available units a SKU is `STOCK_STATE_LOW`.
pub const LOW_STOCK_THRESHOLD: i64 = 5;
/// Most SKUs one `WatchStockLevels` call may watch.
pub const MAX_WATCHED_SKUS: usize = 100;
/// Changes a watcher may fall behind by before it is sent the levels again.
const WATCH_BUFFER: usize = 1024;

/// The inventory: cheap to clone, clones share the same stock.
#[derive(Debug, Clone)]
pub struct InventoryStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changes: broadcast::Sender<StockUpdate>,
    reservation_ttl: Duration,
}

#[derive(Debug, Default)]
struct State {
    skus: BTreeMap<String, Sku>,
    warehouses: BTreeSet<String>,
    reservations: HashMap<String, Reservation>,
    /// Idempotency key → reservation id.
    by_key: HashMap<String, String>,
    next_id: u64,
}

#[derive(Debug)]
struct Sku {
    /// Per warehouse, in name order, which is the order reservations take units in.
    levels: BTreeMap<String, Level>,
    updated_at: SystemTime,
}

#[derive(Debug, Default, Clone, Copy)]
struct Level {
    on_hand: i64,
    reserved: i64,
}

impl Level {
    fn available(self) -> i64 {
        self.on_hand - self.reserved
    }
}

#[derive(Debug)]
struct Reservation {
    holds: Vec<Hold>,
    lapses: Instant,
    expires_at: Timestamp,
    open: bool,
}

#[derive(Debug)]
struct Hold {
    sku: String,
    warehouse: String,
    units: i64,
}

impl Default for InventoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InventoryStore {
    /// An inventory with nothing in stock and the default reservation time to live.
    pub fn new() -> Self {
        Self::with_reservation_ttl(DEFAULT_RESERVATION_TTL)
    }

    /// An empty inventory whose reservations lapse after `ttl`.
    pub fn with_reservation_ttl(ttl: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changes: broadcast::channel(WATCH_BUFFER).0,
                reservation_ttl: ttl,
            }),
        }
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
        let mut state = self.lock();
        state.sweep(&self.shared.changes);
        let entry = state.skus.entry(sku.to_owned()).or_insert_with(|| Sku {
            levels: BTreeMap::new(),
            updated_at: SystemTime::now(),
        });
        let level = entry.levels.entry(warehouse.to_owned()).or_default();
        if on_hand < level.reserved {
            return Err(refused(
                "STOCK",
                sku,
                format!(
                    "{} units are reserved in {warehouse}; cannot count {on_hand} on hand",
                    level.reserved
                ),
            ));
        }
        level.on_hand = on_hand;
        entry.updated_at = SystemTime::now();
        state.warehouses.insert(warehouse.to_owned());
        state.announce(&self.shared.changes, sku);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Returns the units of every reservation that has lapsed.
    fn sweep(&mut self, changes: &broadcast::Sender<StockUpdate>) {
        let now = Instant::now();
        let lapsed: Vec<String> = self
            .reservations
            .iter()
            .filter(|(_, reservation)| reservation.open && reservation.lapses <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in lapsed {
            self.close(&id, changes);
        }
    }

    /// Gives a reservation's units back; false if it was not open.
    fn close(&mut self, id: &str, changes: &broadcast::Sender<StockUpdate>) -> bool {
        let Some(reservation) = self.reservations.get_mut(id) else {
            return false;
        };
        if !reservation.open {
            return false;
        }
        reservation.open = false;
        let holds = std::mem::take(&mut reservation.holds);
        let mut touched = BTreeSet::new();
        for hold in holds {
            if let Some(sku) = self.skus.get_mut(&hold.sku) {
                if let Some(level) = sku.levels.get_mut(&hold.warehouse) {
                    level.reserved -= hold.units;
                }
                sku.updated_at = SystemTime::now();
            }
            touched.insert(hold.sku);
        }
        for sku in touched {
            self.announce(changes, &sku);
        }
        true
    }

    /// Units of `sku` available and reserved over all warehouses, or in one.
    fn totals(&self, sku: &str, warehouse: Option<&str>) -> Level {
        let Some(entry) = self.skus.get(sku) else {
            return Level::default();
        };
        entry
            .levels
            .iter()
            .filter(|(name, _)| warehouse.is_none_or(|only| only == name.as_str()))
            .fold(Level::default(), |total, (_, level)| Level {
                on_hand: total.on_hand + level.on_hand,
                reserved: total.reserved + level.reserved,
            })
    }

    fn update_of(&self, sku: &str) -> StockUpdate {
        StockUpdate {
            sku: sku.to_owned(),
            available: saturate(self.totals(sku, None).available()),
            at: Some(timestamp(SystemTime::now())),
        }
    }

    /// Tells the watchers of `sku` its new level. Nobody watching is not an error.
    fn announce(&self, changes: &broadcast::Sender<StockUpdate>, sku: &str) {
        let _ = changes.send(self.update_of(sku));
    }
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
        let state = self.lock();
        let warehouse = match request.warehouse_id.as_str() {
            "" => None,
            known if state.warehouses.contains(known) => Some(known),
            unknown => return Err(Status::not_found(format!("warehouse {unknown} not found"))),
        };
        let Some(sku) = state.skus.get(&request.sku) else {
            return Err(Status::not_found(format!("SKU {} not found", request.sku)));
        };
        let totals = state.totals(&request.sku, warehouse);
        Ok(CheckStockResponse {
            available: saturate(totals.available()),
            reserved: saturate(totals.reserved),
            updated_at: Some(timestamp(sku.updated_at)),
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
        let changes = &self.shared.changes;
        let mut state = self.lock();
        state.sweep(changes);
        let key = request.idempotency_key;
        if let Some(existing) = state.by_key.get(&key).filter(|_| !key.is_empty()) {
            let reservation = &state.reservations[existing];
            return Ok(ReserveItemsResponse {
                reservation_id: existing.clone(),
                expires_at: Some(reservation.expires_at),
            });
        }
        // All or nothing: check every line before holding any unit.
        for item in &request.items {
            let available = state.totals(&item.sku, None).available();
            if available < i64::from(item.quantity) {
                return Err(refused(
                    "STOCK",
                    &item.sku,
                    format!("{available} available, {} requested", item.quantity),
                ));
            }
        }
        let mut holds = Vec::new();
        for item in &request.items {
            let mut wanted = i64::from(item.quantity);
            let sku = state
                .skus
                .get_mut(&item.sku)
                .expect("a SKU with units available is stocked");
            for (warehouse, level) in &mut sku.levels {
                let units = wanted.min(level.available());
                if units > 0 {
                    level.reserved += units;
                    wanted -= units;
                    holds.push(Hold {
                        sku: item.sku.clone(),
                        warehouse: warehouse.clone(),
                        units,
                    });
                }
            }
            sku.updated_at = SystemTime::now();
        }
        state.next_id += 1;
        let reservation_id = format!("res_{:08x}", state.next_id);
        let ttl = self.shared.reservation_ttl;
        let expires_at = timestamp(SystemTime::now() + ttl);
        state.reservations.insert(
            reservation_id.clone(),
            Reservation {
                holds,
                lapses: Instant::now() + ttl,
                expires_at,
                open: true,
            },
        );
        if !key.is_empty() {
            state.by_key.insert(key, reservation_id.clone());
        }
        for item in &request.items {
            state.announce(changes, &item.sku);
        }
        Ok(ReserveItemsResponse {
            reservation_id,
            expires_at: Some(expires_at),
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
        let changes = &self.shared.changes;
        let mut state = self.lock();
        state.sweep(changes);
        if !state.reservations.contains_key(&id) {
            return Err(Status::not_found(format!("reservation {id} not found")));
        }
        Ok(ReleaseReservationResponse {
            released: state.close(&id, changes),
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
            let state = self.lock();
            for (index, sku) in skus.into_iter().enumerate() {
                if sku.is_empty() {
                    return Err(invalid(&format!("skus[{index}]"), "must not be empty"));
                }
                if !state.skus.contains_key(&sku) {
                    return Err(Status::not_found(format!("SKU {sku} not found")));
                }
                if seen.insert(sku.clone()) {
                    watched.push(sku);
                }
            }
            // Subscribed under the lock that the initial levels are read under: no change is
            // missed between the two, and none is seen twice.
            let changes = self.shared.changes.subscribe();
            let initial: Vec<_> = watched.iter().map(|sku| state.update_of(sku)).collect();
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
        let state = self.store.lock();
        self.watched
            .iter()
            .map(|sku| state.update_of(sku))
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
