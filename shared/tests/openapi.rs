#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Regenerates the checked-in `openapi.json` (the core itself does no I/O):
//! `cargo test -p sentinel-core --test openapi write_openapi -- --ignored`.

#[test]
#[ignore]
fn write_openapi() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    std::fs::write(path, sentinel_core::api::openapi_json()).unwrap();
}
