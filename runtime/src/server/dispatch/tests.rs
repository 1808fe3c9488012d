use super::*;

#[test]
fn an_unknown_method_is_named_as_grpc_go_names_it() {
    let status = unknown_method("/inventory.v1.InventoryService/Restock");
    assert_eq!(status.code(), crate::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "unknown method Restock for service inventory.v1.InventoryService"
    );
    assert_eq!(
        unknown_method("nonsense").message(),
        "unknown method nonsense for service "
    );
}
