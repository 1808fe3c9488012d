"""A grpcio client of the running `logistics` system, for tests/it/python_client.rs.

Usage: logistics_client.py ORDERS INVENTORY DISPATCH (each host:port).

Exercises the four kinds of rpc, deadlines and error codes the way a Python team would call the
services, with stubs that grpcio-tools generated from the same protos (proto/), and prints one
JSON object of what it observed for the Rust test to check. A step that goes wrong raises, so the
process exits non-zero with a traceback naming it.
"""

import json
import queue
import sys
import threading
import uuid

import grpc

from dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc
from inventory.v1 import inventory_pb2, inventory_pb2_grpc
from orders.v1 import orders_pb2, orders_pb2_grpc

# Only a safety net so that a broken server fails the test instead of hanging it.
SAFETY_SECONDS = 30


def code_of(call, *args, **kwargs):
    """The status code name a failing call ends with (or OK)."""
    try:
        call(*args, **kwargs)
        return "OK"
    except grpc.RpcError as error:
        return error.code().name


def order(customer, sku, quantity):
    return orders_pb2.Order(
        customer_id=customer,
        currency="USD",
        items=[orders_pb2.LineItem(sku=sku, quantity=quantity, unit_price_cents=1250)],
    )


def unary(orders, report):
    key = str(uuid.uuid4())
    request = orders_pb2.CreateOrderRequest(order=order("c_py", "SKU-10042", 1), idempotency_key=key)
    request_id = "py-" + key
    placed, call = orders.CreateOrder.with_call(
        request, timeout=SAFETY_SECONDS, metadata=[("x-request-id", request_id)]
    )
    again = orders.CreateOrder(request, timeout=SAFETY_SECONDS)
    fetched = orders.GetOrder(
        orders_pb2.GetOrderRequest(order_id=placed.order_id), timeout=SAFETY_SECONDS
    )
    report["unary"] = {
        "order_id": placed.order_id,
        "status": orders_pb2.OrderStatus.Name(placed.status),
        "assignment_id": placed.assignment_id,
        "total_cents": placed.total_cents,
        "retried_order_id": again.order_id,
        "fetched_order_id": fetched.order_id,
        "sent_request_id": request_id,
        "echoed_request_id": dict(call.initial_metadata()).get("x-request-id"),
    }
    return placed.order_id


def errors(orders, inventory, report):
    report["errors"] = {
        "missing_order": code_of(
            orders.GetOrder,
            orders_pb2.GetOrderRequest(order_id="ord_99999999"),
            timeout=SAFETY_SECONDS,
        ),
        "empty_order": code_of(
            orders.CreateOrder, orders_pb2.CreateOrderRequest(), timeout=SAFETY_SECONDS
        ),
        "out_of_stock": code_of(
            orders.CreateOrder,
            orders_pb2.CreateOrderRequest(order=order("c_py", "SKU-20001", 1)),
            timeout=SAFETY_SECONDS,
        ),
        "missing_sku": code_of(
            inventory.CheckStock,
            inventory_pb2.CheckStockRequest(sku=""),
            timeout=SAFETY_SECONDS,
        ),
    }


def deadlines(orders, report):
    # A deadline too short for the server to answer in. Placing an order needs inventory and
    # dispatch, so the orders server cannot answer before the deadline (a call it can answer
    # at once, such as ListOrders, may well succeed: neither grpcio nor the server checks a
    # deadline before the answer is ready); grpcio's own timer or the server's deadline then
    # ends the call. The customer is one of its own, so that the order could not be counted
    # below even if it were placed.
    tiny = orders_pb2.CreateOrderRequest(order=order("c_py_deadline", "SKU-10042", 1))
    try:
        orders.CreateOrder(tiny, timeout=0.000001)
        short = {"code": "OK", "details": ""}
    except grpc.RpcError as error:
        short = {"code": error.code().name, "details": error.details()}
    # Following a customer lasts until the deadline (they may place more orders): the stream
    # sends the current status of each of their orders, then nothing, and ends at its deadline.
    # The deadline is only a few seconds, but ample for the first messages to arrive.
    followed = orders.StreamOrderUpdates(
        orders_pb2.StreamOrderUpdatesRequest(customer_id="c_py"), timeout=3.0
    )
    received = 0
    try:
        for _ in followed:
            received += 1
        ended = "OK"
    except grpc.RpcError as error:
        ended = error.code().name
    report["deadlines"] = {
        "tiny_unary": short["code"],
        "tiny_unary_details": short["details"],
        "stream_end": ended,
        "stream_messages": received,
    }


def server_streaming(orders, order_id, report):
    updates = orders.StreamOrderUpdates(
        orders_pb2.StreamOrderUpdatesRequest(order_ids=[order_id]), timeout=SAFETY_SECONDS
    )
    # The stream starts with the order's current status (previous_status == status), then
    # sends each change.
    first = next(updates)
    orders.CancelOrder(
        orders_pb2.CancelOrderRequest(order_id=order_id, reason="python client"),
        timeout=SAFETY_SECONDS,
    )
    # The stream ends on its own once every followed order is final.
    rest = list(updates)
    report["server_streaming"] = {
        "first_order_id": first.order_id,
        "first_is_current": first.previous_status == first.status,
        "first_status": orders_pb2.OrderStatus.Name(first.status),
        "then": [orders_pb2.OrderStatus.Name(update.status) for update in rest],
    }


def client_streaming(orders, report):
    items = [
        orders_pb2.LineItem(sku="SKU-10042", quantity=2, unit_price_cents=1250),
        orders_pb2.LineItem(sku="SKU-10043", quantity=1, unit_price_cents=499),
        orders_pb2.LineItem(sku="SKU-10042", quantity=0, unit_price_cents=1250),
    ]
    summary = orders.UploadOrderItems(iter(items), timeout=SAFETY_SECONDS)
    report["client_streaming"] = {
        "accepted": summary.accepted_count,
        "rejected": summary.rejected_count,
        "errors": list(summary.errors),
    }


def bidi(orders, dispatch, report):
    """Goes on shift as a courier, takes the first offer, and reads the confirmation.

    The first offer is deterministic: the order placed in `unary` asked dispatch for a courier
    while nobody was on shift, so its assignment waits (cancelling the order does not withdraw
    it), and a courier coming on shift is offered the assignment waiting longest at once.
    """
    courier = "cour_2"
    outbox = queue.Queue()

    def updates():
        while True:
            update = outbox.get()
            if update is None:
                return
            yield update

    results = dispatch.StreamAssignments(updates(), timeout=SAFETY_SECONDS)
    outbox.put(
        dispatch_pb2.AssignmentUpdate(
            courier_id=courier, location=dispatch_pb2.GeoPoint(latitude=52.5, longitude=13.4)
        )
    )
    # An order placed while the courier is on shift: its assignment is offered to them too
    # when it arrives before they take the first offer, else it waits. The order is placed
    # either way.
    placed = {}

    def place():
        request = orders_pb2.CreateOrderRequest(order=order("c_py", "SKU-10043", 1))
        try:
            placed["status"] = orders_pb2.OrderStatus.Name(
                orders.CreateOrder(request, timeout=SAFETY_SECONDS).status
            )
        except grpc.RpcError as error:
            placed["status"] = error.code().name

    placer = threading.Thread(target=place)
    placer.start()
    offer = next(results)
    assignment_id = offer.offer.assignment_id
    outbox.put(
        dispatch_pb2.AssignmentUpdate(courier_id=courier, accepted_assignment_id=assignment_id)
    )
    # Offers and the answers to the courier's updates share the stream, in no fixed order:
    # the offer of the order placed meanwhile may come before the confirmation.
    while True:
        answer = next(results)
        kind = answer.WhichOneof("result")
        if kind == "confirmed_assignment_id":
            break
        if kind != "offer":
            raise AssertionError(f"expected the confirmation of {assignment_id}, got {answer}")
    status = dispatch.GetCourierStatus(
        dispatch_pb2.GetCourierStatusRequest(courier_id=courier), timeout=SAFETY_SECONDS
    )
    # Closing the courier's side ends the shift; dispatch then ends the stream with OK (after
    # any withdrawal of the offer the courier did not take).
    outbox.put(None)
    ended = "OK"
    try:
        for _ in results:
            pass
    except grpc.RpcError as error:
        ended = error.code().name
    placer.join(SAFETY_SECONDS)
    report["bidi"] = {
        "offer_kind": offer.WhichOneof("result"),
        "offered_to": offer.offer.courier_id,
        "offered_order_id": offer.offer.order_id,
        "offered_assignment_id": assignment_id,
        "confirmed_assignment_id": answer.confirmed_assignment_id,
        "courier_state": dispatch_pb2.CourierState.Name(status.state),
        "current_assignment_id": status.current_assignment_id,
        "stream_end": ended,
        "placed_while_on_shift": placed.get("status", "still running"),
    }


def main():
    orders_addr, inventory_addr, dispatch_addr = sys.argv[1:]
    report = {}
    with grpc.insecure_channel(orders_addr) as orders_channel, grpc.insecure_channel(
        inventory_addr
    ) as inventory_channel, grpc.insecure_channel(dispatch_addr) as dispatch_channel:
        orders = orders_pb2_grpc.OrderServiceStub(orders_channel)
        inventory = inventory_pb2_grpc.InventoryServiceStub(inventory_channel)
        dispatch = dispatch_pb2_grpc.DispatchServiceStub(dispatch_channel)
        order_id = unary(orders, report)
        errors(orders, inventory, report)
        server_streaming(orders, order_id, report)
        client_streaming(orders, report)
        bidi(orders, dispatch, report)
        deadlines(orders, report)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
