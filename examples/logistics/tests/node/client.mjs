// connect-node clients of a running `logistics all`, over every transport connect-node has:
// gRPC, gRPC-Web (HTTP/1.1 and HTTP/2) and the Connect protocol (binary and JSON, HTTP/1.1 and
// HTTP/2). Run by tests/it/node_client.rs; by hand (after `npm ci` and `npm run generate`):
//
//   node client.mjs http://127.0.0.1:50051 http://127.0.0.1:50052 http://127.0.0.1:50053
//
// (inventory, orders, dispatch). Runs every case on every transport, one at a time (the cases
// watch and change shared stock and couriers), prints a table of case × transport and, last, one
// JSON line of the same results; exits non-zero when a case fails. README.md lists the cases.

import { randomUUID } from "node:crypto";

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createTransport as createConnectProtocolTransport,
} from "@connectrpc/connect/protocol-connect";
import {
  Http2SessionManager,
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  createNodeHttpClient,
} from "@connectrpc/connect-node";

import { DispatchService } from "./gen/dispatch/v1/dispatch_pb.js";
import { BadRequestSchema, PreconditionFailureSchema } from "./gen/google/rpc/error_details_pb.js";
import { InventoryService, StockState } from "./gen/inventory/v1/inventory_pb.js";
import { OrderService } from "./gen/orders/v1/orders_pb.js";

// Only a safety net, so that a server that never answers fails a case instead of hanging the
// run: every call is aborted after this.
const SAFETY_MS = 20_000;
// The servers' limit on a received message (rust_svc_runtime::DEFAULT_MAX_MESSAGE_SIZE).
const SERVER_LIMIT = 4 * 1024 * 1024;

const [inventoryUrl, ordersUrl, dispatchUrl] = process.argv.slice(2);
if (!dispatchUrl) {
  console.error("usage: node client.mjs INVENTORY_URL ORDERS_URL DISPATCH_URL");
  process.exit(2);
}

// The transports, each a function of a service's base URL and extra options.
const TRANSPORTS = [
  { name: "grpc", kind: "grpc", h2: true, make: (o) => createGrpcTransport(o) },
  {
    name: "grpc-web/1.1",
    kind: "grpc-web",
    h2: false,
    make: (o) => createGrpcWebTransport({ ...o, httpVersion: "1.1" }),
  },
  {
    name: "grpc-web/2",
    kind: "grpc-web",
    h2: true,
    make: (o) => createGrpcWebTransport({ ...o, httpVersion: "2" }),
  },
  ...[true, false].flatMap((binary) =>
    ["1.1", "2"].map((httpVersion) => ({
      name: `connect+${binary ? "proto" : "json"}/${httpVersion}`,
      kind: "connect",
      h2: httpVersion === "2",
      httpVersion,
      binary,
      make: (o) => createConnectTransport({ ...o, httpVersion, useBinaryFormat: binary }),
    })),
  ),
];

// A case that does not apply to a transport, with the reason.
class NotApplicable {
  constructor(reason) {
    this.reason = reason;
  }
}

class Failure extends Error {}

function check(condition, message) {
  if (!condition) {
    throw new Failure(message);
  }
}

function equal(actual, expected, what) {
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

// `INVALID_ARGUMENT` from `Code.InvalidArgument`.
function codeName(code) {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

// The ConnectError a call must fail with; its code checked against `expected` (a name).
async function failure(call, expected) {
  try {
    await call();
  } catch (error) {
    const connectError = ConnectError.from(error);
    equal(
      codeName(connectError.code),
      expected,
      `the code (message ${JSON.stringify(connectError.rawMessage)})`,
    );
    return connectError;
  }
  throw new Failure(`succeeded; expected ${expected}`);
}

// Call options: the safety net, plus `extra`.
function opts(extra = {}) {
  return { signal: AbortSignal.timeout(SAFETY_MS), ...extra };
}

// A request-side stream the test writes to while the call runs (for bidi streams).
class Outbox {
  #items = [];
  #waiting = null;
  #closed = false;

  push(item) {
    this.#items.push(item);
    this.#wake();
  }

  close() {
    this.#closed = true;
    this.#wake();
  }

  #wake() {
    if (this.#waiting) {
      this.#waiting();
      this.#waiting = null;
    }
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift();
      } else if (this.#closed) {
        return;
      } else {
        await new Promise((resolve) => {
          this.#waiting = resolve;
        });
      }
    }
  }
}

async function* listOf(items) {
  yield* items;
}

// The cases: each takes the transport's clients, throws on failure, returns a short note.
const CASES = {
  async unary({ inventory }) {
    const stock = await inventory.checkStock({ sku: "SKU-10042" }, opts());
    equal(stock.sku, "SKU-10042", "sku");
    check(stock.available > 0, `available ${stock.available}`);
    equal(StockState[stock.state], "IN_STOCK", "state");
    check(stock.updatedAt?.seconds > 0n, "updated_at is set");
    return `available ${stock.available}`;
  },

  async "unary GET"({ transport }) {
    if (transport.kind !== "connect") {
      return new NotApplicable("GET is the Connect protocol's");
    }
    // Connect's GET for NO_SIDE_EFFECTS rpcs (CheckStock). connect-node's transport with
    // useHttpGet, assembled by hand to see the HTTP method of each request (interceptors see
    // the call before the protocol picks GET).
    const methods = [];
    const httpClient = createNodeHttpClient(
      transport.httpVersion === "2"
        ? { httpVersion: "2", sessionProvider: () => new Http2SessionManager(inventoryUrl) }
        : { httpVersion: "1.1" },
    );
    const inventory = createClient(
      InventoryService,
      createConnectProtocolTransport({
        baseUrl: inventoryUrl,
        httpClient: (request) => {
          methods.push(request.method);
          return httpClient(request);
        },
        useHttpGet: true,
        useBinaryFormat: transport.binary,
        interceptors: [],
        acceptCompression: [compressionGzip],
        sendCompression: null,
        compressMinBytes: 1024,
        readMaxBytes: 0xffffffff,
        writeMaxBytes: 0xffffffff,
      }),
    );
    const stock = await inventory.checkStock({ sku: "SKU-10043" }, opts());
    equal(stock.sku, "SKU-10043", "sku");
    const error = await failure(
      () => inventory.checkStock({ sku: "" }, opts()),
      "INVALID_ARGUMENT",
    );
    equal(
      error.findDetails(BadRequestSchema).map((d) => d.fieldViolations.map((v) => v.field)),
      [["sku"]],
      "BadRequest over GET",
    );
    // ReserveItems has side effects: POST all the same.
    await failure(
      () => inventory.reserveItems({ orderId: "", items: [] }, opts()),
      "INVALID_ARGUMENT",
    );
    equal(methods, ["GET", "GET", "POST"], "request methods");
    return "GET, GET, then POST";
  },

  async "error details"({ inventory }) {
    const invalid = await failure(
      () => inventory.checkStock({ sku: "" }, opts()),
      "INVALID_ARGUMENT",
    );
    const badRequests = invalid.findDetails(BadRequestSchema);
    equal(
      badRequests.map((d) => d.fieldViolations.map((v) => v.field)),
      [["sku"]],
      "google.rpc.BadRequest field violations",
    );
    check(invalid.rawMessage.startsWith("sku: "), `message ${invalid.rawMessage}`);
    const refused = await failure(
      () =>
        inventory.reserveItems(
          { orderId: `node-${randomUUID()}`, items: [{ sku: "SKU-20001", quantity: 1 }] },
          opts(),
        ),
      "FAILED_PRECONDITION",
    );
    const preconditions = refused.findDetails(PreconditionFailureSchema);
    equal(
      preconditions.map((d) => d.violations.map((v) => [v.type, v.subject])),
      [[["STOCK", "SKU-20001"]]],
      "google.rpc.PreconditionFailure violations",
    );
    await failure(() => inventory.checkStock({ sku: "SKU-404" }, opts()), "NOT_FOUND");
    return "BadRequest, PreconditionFailure";
  },

  async "headers+trailers"({ transport, inventory }) {
    // The request id the client sends is echoed in the response headers (RequestIds).
    const requestId = `node-${randomUUID()}`;
    let header;
    let trailer;
    await inventory.checkStock(
      { sku: "SKU-10042" },
      opts({
        headers: { "x-request-id": requestId },
        onHeader: (h) => (header = h),
        onTrailer: (t) => (trailer = t),
      }),
    );
    check(header !== undefined, "onHeader was not called");
    check(trailer !== undefined, "onTrailer was not called");
    equal(header.get("x-request-id"), requestId, "echoed x-request-id");
    // gRPC and gRPC-Web end with the status in the trailers (HTTP/2 trailers, or gRPC-Web's
    // trailer frame), which connect-node hands over as they came; a Connect unary answer has
    // trailers only when the server sets some (`trailer-` headers), which these services do not.
    if (transport.kind === "connect") {
      equal([...trailer.keys()], [], "Connect trailers");
    } else {
      equal(trailer.get("grpc-status"), "0", "grpc-status trailer");
    }
    // An error carries the headers too, in its metadata.
    const errorId = `node-${randomUUID()}`;
    const error = await failure(
      () => inventory.checkStock({ sku: "" }, opts({ headers: { "x-request-id": errorId } })),
      "INVALID_ARGUMENT",
    );
    equal(error.metadata.get("x-request-id"), errorId, "x-request-id of the error");
    const trailerNames = [...trailer.keys()];
    return trailerNames.length ? `trailers: ${trailerNames.join(",")}` : "no trailers";
  },

  async "deadline unary"({ orders }) {
    // Placing an order calls inventory and dispatch: not done within 1 ms. The server may
    // still reserve the stock: SKU-10043, which the other cases do not count.
    const order = {
      customerId: "c_node_deadline",
      currency: "USD",
      items: [{ sku: "SKU-10043", quantity: 1, unitPriceCents: 499 }],
    };
    const error = await failure(
      () => orders.createOrder({ order }, opts({ timeoutMs: 1 })),
      "DEADLINE_EXCEEDED",
    );
    return `timeoutMs 1: ${error.rawMessage}`;
  },

  async "deadline stream"({ inventory }) {
    // The watch sends the current level, then nothing until the deadline ends it (SKU-20001 is
    // out of stock: no case changes it).
    let received = 0;
    const started = Date.now();
    await failure(async () => {
      for await (const _ of inventory.watchStockLevels(
        { skus: ["SKU-20001"] },
        opts({ timeoutMs: 400 }),
      )) {
        received++;
      }
    }, "DEADLINE_EXCEEDED");
    const elapsed = Date.now() - started;
    equal(received, 1, "messages before the deadline");
    check(elapsed >= 350, `ended after ${elapsed} ms`);
    return `${elapsed} ms`;
  },

  async "server deadline"({ transport, inventory }) {
    // Only the deadline header, without the client's own timer: the server must end the call.
    const header =
      transport.kind === "connect"
        ? { "connect-timeout-ms": "400" }
        : { "grpc-timeout": "400m" };
    let received = 0;
    const started = Date.now();
    await failure(async () => {
      for await (const _ of inventory.watchStockLevels(
        { skus: ["SKU-20001"] },
        opts({ headers: header }),
      )) {
        received++;
      }
    }, "DEADLINE_EXCEEDED");
    const elapsed = Date.now() - started;
    equal(received, 1, "messages before the deadline");
    check(elapsed >= 350 && elapsed < 5000, `ended after ${elapsed} ms`);
    return `${elapsed} ms`;
  },

  async "server stream"({ inventory }) {
    // The current levels of both SKUs, then each change as it happens, until cancelled.
    const abort = new AbortController();
    const guard = setTimeout(() => abort.abort(new Error("safety timeout")), SAFETY_MS);
    const requestId = `node-${randomUUID()}`;
    let header;
    const stream = inventory.watchStockLevels(
      { skus: ["SKU-10042", "SKU-10043"] },
      {
        signal: abort.signal,
        headers: { "x-request-id": requestId },
        onHeader: (h) => (header = h),
      },
    )[Symbol.asyncIterator]();
    const next = async () => {
      const { value, done } = await stream.next();
      check(!done, "the stream ended early");
      return value;
    };
    // The next change of SKU-10042 (an order the "deadline unary" case placed may still change
    // SKU-10043).
    const next10042 = async () => {
      for (;;) {
        const update = await next();
        if (update.sku === "SKU-10042") {
          return update;
        }
      }
    };
    try {
      const initial = [await next(), await next()];
      equal(initial.map((u) => u.sku).sort(), ["SKU-10042", "SKU-10043"], "initial levels");
      equal(header?.get("x-request-id"), requestId, "echoed x-request-id");
      const before = initial.find((u) => u.sku === "SKU-10042").available;
      const { reservationId } = await inventory.reserveItems(
        { orderId: `node-${randomUUID()}`, items: [{ sku: "SKU-10042", quantity: 1 }] },
        opts(),
      );
      const reserved = await next10042();
      equal([reserved.sku, reserved.available], ["SKU-10042", before - 1], "after reserving");
      const { released } = await inventory.releaseReservation({ reservationId }, opts());
      check(released, "released");
      const back = await next10042();
      equal([back.sku, back.available], ["SKU-10042", before], "after releasing");
      abort.abort();
      await failure(() => stream.next(), "CANCELED");
    } finally {
      clearTimeout(guard);
      abort.abort();
    }
    return "2 levels + 2 changes, cancelled";
  },

  async "stream error"({ inventory }) {
    // A server stream that fails before its first message: the status and its details come
    // in the trailers (gRPC's trailers-only answer, gRPC-Web's trailer frame, the Connect
    // protocol's end-of-stream message).
    const error = await failure(async () => {
      for await (const _ of inventory.watchStockLevels({ skus: ["SKU-10042", ""] }, opts())) {
        throw new Failure("a message before the error");
      }
    }, "INVALID_ARGUMENT");
    equal(
      error.findDetails(BadRequestSchema).map((d) => d.fieldViolations.map((v) => v.field)),
      [["skus[1]"]],
      "google.rpc.BadRequest field violations",
    );
    await failure(async () => {
      for await (const _ of inventory.watchStockLevels({ skus: ["SKU-404"] }, opts())) {
        throw new Failure("a message before the error");
      }
    }, "NOT_FOUND");
    return "BadRequest";
  },

  async "compression"({ make }) {
    // gzip both ways, every message compressed (connect-node accepts gzip and br by default).
    const compressed = (url) =>
      make(url, { sendCompression: compressionGzip, compressMinBytes: 0 });
    const inventory = createClient(InventoryService, compressed(inventoryUrl));
    const orders = createClient(OrderService, compressed(ordersUrl));
    let header;
    const stock = await inventory.checkStock(
      { sku: "SKU-10042" },
      opts({ onHeader: (h) => (header = h) }),
    );
    equal(stock.sku, "SKU-10042", "sku");
    const summary = await orders.uploadOrderItems(
      listOf([{ sku: "SKU-10042", quantity: 1, unitPriceCents: 1250 }]),
      opts(),
    );
    equal(summary.acceptedCount, 1, "accepted");
    const encoding =
      header.get("grpc-encoding") ?? header.get("content-encoding") ?? "identity";
    return `answer: ${encoding}`;
  },

  async "client stream"({ transport, orders }) {
    const requestId = `node-${randomUUID()}`;
    let header;
    let trailer;
    const summary = await orders.uploadOrderItems(
      listOf([
        { sku: "SKU-10042", quantity: 2, unitPriceCents: 1250 },
        { sku: "SKU-10043", quantity: 1, unitPriceCents: 499 },
        { sku: "SKU-10042", quantity: 0, unitPriceCents: 1250 },
      ]),
      opts({
        headers: { "x-request-id": requestId },
        onHeader: (h) => (header = h),
        onTrailer: (t) => (trailer = t),
      }),
    );
    equal(
      [summary.acceptedCount, summary.rejectedCount, summary.errors],
      [2, 1, ["item 3.quantity: must be at least 1, got 0"]],
      "summary",
    );
    // Headers and trailers of a stream: the trailers of the Connect protocol's streams are the
    // end-of-stream message's metadata.
    equal(header?.get("x-request-id"), requestId, "echoed x-request-id");
    check(trailer !== undefined, "onTrailer was not called");
    if (transport.kind !== "connect") {
      equal(trailer.get("grpc-status"), "0", "grpc-status trailer");
    }
    return "2 accepted, 1 rejected";
  },

  async "bidi stream"({ transport, dispatch }) {
    if (!transport.h2) {
      return new NotApplicable("a bidi stream needs HTTP/2");
    }
    // On shift as a courier, a delivery requested meanwhile, and the offer taken: the server
    // answers each update while the request side stays open.
    const courierId = "cour_1";
    const outbox = new Outbox();
    const abort = new AbortController();
    const guard = setTimeout(() => abort.abort(new Error("safety timeout")), SAFETY_MS);
    try {
      const results = dispatch
        .streamAssignments(outbox, { signal: abort.signal })
        [Symbol.asyncIterator]();
      const next = async () => {
        const { value, done } = await results.next();
        check(!done, "the stream ended early");
        return value;
      };
      outbox.push({
        courierId,
        event: { case: "location", value: { latitude: 52.5, longitude: 13.4 } },
      });
      // At least this assignment is waiting or offered to the courier; an older waiting one
      // may be offered first.
      await dispatch.requestCourier({ orderId: `node-${randomUUID()}` }, opts());
      let offer;
      do {
        offer = await next();
      } while (offer.result.case !== "offer");
      const assignmentId = offer.result.value.assignmentId;
      equal(offer.result.value.courierId, courierId, "offered to");
      outbox.push({ courierId, event: { case: "acceptedAssignmentId", value: assignmentId } });
      let answer;
      do {
        answer = await next();
      } while (answer.result.case === "offer");
      equal(answer.result, { case: "confirmedAssignmentId", value: assignmentId }, "answer");
      const status = await dispatch.getCourierStatus({ courierId }, opts());
      equal(status.currentAssignmentId, assignmentId, "current assignment");
      outbox.push({ courierId, event: { case: "deliveredAssignmentId", value: assignmentId } });
      // Closing the courier's side ends the shift, and dispatch ends the stream with OK.
      outbox.close();
      for (;;) {
        const { done } = await results.next();
        if (done) {
          break;
        }
      }
    } finally {
      clearTimeout(guard);
      outbox.close();
    }
    return "offer, accept, confirm, close";
  },

  async "limit: unary"({ inventory }) {
    // Over the server's 4 MiB limit: RESOURCE_EXHAUSTED, and the transport works after it.
    const sku = "x".repeat(SERVER_LIMIT + 1024);
    const error = await failure(
      () => inventory.checkStock({ sku }, opts()),
      "RESOURCE_EXHAUSTED",
    );
    const stock = await inventory.checkStock({ sku: "SKU-10042" }, opts());
    equal(stock.sku, "SKU-10042", "the call after");
    return `${error.rawMessage}; then OK`;
  },

  async "limit: stream"({ orders }) {
    // The same in a client stream, after a message within the limit.
    const sku = "x".repeat(SERVER_LIMIT + 1024);
    const error = await failure(
      () =>
        orders.uploadOrderItems(
          listOf([
            { sku: "SKU-10042", quantity: 1, unitPriceCents: 1250 },
            { sku, quantity: 1, unitPriceCents: 1 },
          ]),
          opts(),
        ),
      "RESOURCE_EXHAUSTED",
    );
    const summary = await orders.uploadOrderItems(
      listOf([{ sku: "SKU-10042", quantity: 1, unitPriceCents: 1250 }]),
      opts(),
    );
    equal(summary.acceptedCount, 1, "the call after");
    return `${error.rawMessage}; then OK`;
  },

  async "limit: client read"({ make }) {
    // The client's own limit on what it reads, below the size of the answer.
    const inventory = createClient(InventoryService, make(inventoryUrl, { readMaxBytes: 8 }));
    await failure(() => inventory.checkStock({ sku: "SKU-10042" }, opts()), "RESOURCE_EXHAUSTED");
    return "readMaxBytes 8";
  },
};

// Cells known to fail because of the server, as "case @ transport": the README section that
// explains each. Such a cell is "xfail" and does not fail the run; one that passes is "XPASS"
// and does, so that the list is kept current.
const KNOWN_FAILURES = {};

async function main() {
  const results = {};
  const notes = [];
  let failed = false;
  for (const transport of TRANSPORTS) {
    const make = (baseUrl, extra = {}) => transport.make({ baseUrl, ...extra });
    const clients = {
      transport,
      make,
      inventory: createClient(InventoryService, make(inventoryUrl)),
      orders: createClient(OrderService, make(ordersUrl)),
      dispatch: createClient(DispatchService, make(dispatchUrl)),
    };
    results[transport.name] = {};
    for (const [name, run] of Object.entries(CASES)) {
      const known = KNOWN_FAILURES[`${name} @ ${transport.name}`];
      let cell;
      let note;
      try {
        const outcome = await run(clients);
        if (outcome instanceof NotApplicable) {
          cell = "n/a";
          note = outcome.reason;
        } else {
          cell = known ? "XPASS" : "ok";
          note = outcome;
        }
      } catch (error) {
        cell = known ? "xfail" : "FAIL";
        note = error instanceof Failure ? error.message : String(error?.stack ?? error);
      }
      if (cell === "FAIL" || cell === "XPASS") {
        failed = true;
      }
      results[transport.name][name] = cell;
      notes.push({ transport: transport.name, case: name, cell, note });
    }
  }
  printTable(results);
  console.log();
  for (const { transport, case: name, cell, note } of notes) {
    if (cell !== "ok" || process.env.VERBOSE) {
      console.log(`${cell.padEnd(5)} ${name} @ ${transport}: ${note}`);
    }
  }
  console.log(JSON.stringify({ results }));
  return failed ? 1 : 0;
}

function printTable(results) {
  const transports = Object.keys(results);
  const cases = Object.keys(CASES);
  const first = Math.max(...cases.map((c) => c.length));
  const widths = transports.map((t) => Math.max(t.length, 5));
  const row = (label, cells) =>
    [label.padEnd(first), ...cells.map((cell, i) => cell.padEnd(widths[i]))].join(" | ");
  console.log(row("case", transports));
  console.log(row("-".repeat(first), widths.map((w) => "-".repeat(w))));
  for (const name of cases) {
    console.log(row(name, transports.map((t) => results[t][name])));
  }
}

// Explicitly: idle HTTP/2 sessions would keep the process alive for a while.
process.exit(await main());
