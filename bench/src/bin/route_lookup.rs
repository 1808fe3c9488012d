//! The half of bench/route_table.sh that looks routes up: a gateway's route table made from
//! the HTTP rules of a whole API (one table for all its services, as a `Host` builds it), and a
//! lookup of a path made from each route's template, or of one that no route matches.
//!
//! ```text
//! route_lookup ROUTES hit|miss ITERS
//! ```
//!
//! `ROUTES` has one `METHOD TEMPLATE` a line (the script extracts them from the protos). Each
//! template becomes a path that matches it (`*` filled with `w`, `**` with `d/e`, its verb
//! kept) or, for `miss`, the same path with its last literal changed, which none matches. Every
//! path is looked up `ITERS` times; the time a lookup took is printed (the script counts
//! instructions with callgrind, running 0 and `ITERS` rounds).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use rust_svc_http_template::{PathTemplate, RouteTable, Segment};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [routes, mode, iters] = args.as_slice() else {
        eprintln!("usage: route_lookup ROUTES hit|miss ITERS");
        return ExitCode::FAILURE;
    };
    let Ok(iters) = iters.parse::<u32>() else {
        eprintln!("route_lookup: ITERS {iters:?} is not a number");
        return ExitCode::FAILURE;
    };
    let miss = match mode.as_str() {
        "hit" => false,
        "miss" => true,
        other => {
            eprintln!("route_lookup: mode {other:?}: hit or miss");
            return ExitCode::FAILURE;
        }
    };
    let text = match std::fs::read_to_string(routes) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("route_lookup: {routes}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut table = RouteTable::new();
    let mut requests = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let Some((method, template)) = line.split_once(' ') else {
            continue;
        };
        let template = match PathTemplate::parse(template) {
            Ok(template) => template,
            Err(e) => {
                eprintln!("route_lookup: {routes}:{}: {e}", number + 1);
                return ExitCode::FAILURE;
            }
        };
        let path = path_of(&template, miss);
        // Rules that match the same requests (an rpc bound twice) make one route, as in the
        // gateway, where the later one wins.
        if table.insert(method, template, number).is_ok() {
            requests.push((method.to_owned(), path));
        }
    }
    let found = requests
        .iter()
        .filter(|(method, path)| table.find(method, path).is_some())
        .count();
    let start = Instant::now();
    for _ in 0..iters {
        for (method, path) in &requests {
            black_box(black_box(&table).find(black_box(method), black_box(path)));
        }
    }
    let lookups = f64::from(iters) * requests.len() as f64;
    let nanos = start.elapsed().as_nanos() as f64 / lookups.max(1.0);
    println!(
        "routes={} lookups_per_round={} found={found} ns_per_lookup={nanos:.0}",
        table.len(),
        requests.len()
    );
    ExitCode::SUCCESS
}

/// A path that `template` matches; with `miss`, its last literal changed so that no route
/// matches it (unless another route's variable takes it).
fn path_of(template: &PathTemplate, miss: bool) -> String {
    let segments = template.segments();
    let last_literal = segments
        .iter()
        .rposition(|segment| matches!(segment, Segment::Literal(_)));
    let mut path = String::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(_) if miss && Some(i) == last_literal => path.push_str("/zz"),
            Segment::Literal(literal) => {
                path.push('/');
                path.push_str(literal);
            }
            Segment::Wildcard => path.push_str("/w"),
            Segment::DoubleWildcard => path.push_str("/d/e"),
        }
    }
    if let Some(verb) = template.verb() {
        path.push(':');
        path.push_str(verb);
    }
    path
}
