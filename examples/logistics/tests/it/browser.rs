//! The web page on the orders port in a real browser: tests/browser/place_order.py drives
//! headless Chromium through Selenium against `logistics all`, placing two orders with the
//! form and waiting for each to arrive over the page's live update stream (Server-Sent Events
//! from the REST gateway) and in its orders table.
//!
//! Needs Selenium in the interpreter `RUST_SVC_PYTHON` (default `python3`) and Debian's
//! chromium and chromedriver (`CHROMIUM` and `CHROMEDRIVER` name others; the script reads them
//! too). Without them the test prints "skipped" and passes, unless `RUST_SVC_REQUIRE_BROWSER=1`
//! (CI) makes that a failure.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{Logistics, fresh_dir, on_path, output_within, python_with, skip};

const REQUIRE: &str = "RUST_SVC_REQUIRE_BROWSER";

/// A bound on the script's run, so that a browser that never starts fails the test instead of
/// hanging it; each of the script's steps has its own 20 s bound.
const SCRIPT_GUARD: Duration = Duration::from_secs(300);

/// The binary the script uses for `variable`: its value, else `default`.
fn binary(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

#[test]
fn orders_placed_on_the_page_come_back_over_the_live_stream() {
    let test = "browser";
    let python = match python_with(&["selenium"]) {
        Ok(python) => python,
        Err(why) => {
            let why = format!("{why}: run `pip install selenium` for it, or set RUST_SVC_PYTHON");
            return skip(test, REQUIRE, &why);
        }
    };
    let chromium = binary("CHROMIUM", "/usr/bin/chromium");
    let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
    for program in [&chromium, &chromedriver] {
        if !on_path(program) {
            let why = format!(
                "{program} is not an executable (apt-get install chromium chromium-driver)"
            );
            return skip(test, REQUIRE, &why);
        }
    }

    let system = Logistics::all(&[]);
    let scratch = fresh_dir(test);
    let screenshot = scratch.join("failure.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/place_order.py");
    let mut command = Command::new(&python);
    command
        .arg(script)
        .arg(format!("{}/", system.url("orders")))
        .env("CHROMIUM", &chromium)
        .env("CHROMEDRIVER", &chromedriver)
        .env("SCREENSHOT", &screenshot)
        // The browser's own caches and profile stay in the scratch directory.
        .env("HOME", &scratch);
    let output = output_within(command, "place_order.py", SCRIPT_GUARD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "place_order.py failed ({}); stdout:\n{stdout}\nstderr:\n{}\nserver stderr:\n{}\n\
         (a screenshot, if one could be taken: {})",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        system.stderr(),
        screenshot.display()
    );
    // The script's account of each step, as its docstring lists them.
    for step in [
        "order 1: placed ord_",
        "order 1: row in the orders table",
        "update stream open",
        "order 2: placed ord_",
        "order 2: row in the orders table",
        "OK: both orders placed, streamed and listed",
    ] {
        assert!(stdout.contains(step), "no {step:?} in:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
