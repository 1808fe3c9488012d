//! Lookup is on the hot path of every gateway request: it must not allocate beyond the bindings
//! it returns, and `find` not at all. Counted with a global allocator, in a test binary of its own (the crate's other
//! tests are one binary, tests/it) so that no other test allocates meanwhile, and no other test
//! runs on the counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rust_svc_http_template::{Lookup, PathTemplate, RouteTable};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, that is from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_of<R>(f: impl FnOnce() -> R) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = f();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    drop(result);
    after - before
}

#[test]
fn lookups_allocate_only_their_bindings() {
    let mut table = RouteTable::new();
    let routes = [
        ("GET", "/v1/items"),
        ("GET", "/v1/items/{id}"),
        ("POST", "/v1/items/{id}:reserve"),
        ("GET", "/v1/{name=shelves/*/books/*}"),
        ("*", "/v1/any/**"),
    ];
    for (method, template) in routes {
        let template = PathTemplate::parse(template).unwrap();
        table.insert(method, template, ()).unwrap();
    }
    let long = format!("/v1/any/{}", "s/".repeat(40));
    // (method, path, allocations): a binding is its Vec plus two Strings; a path longer than
    // the inline segment buffer spills once.
    let cases = [
        ("GET", "/v1/items", 0),
        ("GET", "/v1/items?page=2", 0),
        ("GET", "/v1/nothing", 0),
        ("GET", "/v1/items/42", 3),
        ("GET", "/v1/items/a%20b", 3),
        ("POST", "/v1/items/42:reserve", 3),
        ("GET", "/v1/shelves/s/books/b", 3),
        ("PUT", "/v1/any/thing", 0),
        ("GET", long.as_str(), 1),
    ];
    for (method, path, want) in cases {
        let got = allocations_of(|| table.lookup(method, path));
        assert_eq!(got, want, "{method} {path}");
        // `find` allocates nothing for its values, which it does not decode.
        let spilled = usize::from(path == long);
        let got = allocations_of(|| table.find(method, path));
        assert_eq!(got, spilled, "find {method} {path}");
        let found = matches!(table.lookup(method, path), Lookup::Found(_));
        assert_eq!(found, path != "/v1/nothing", "{method} {path}");
    }
}
