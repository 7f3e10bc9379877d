//! runnel-plugin-sdk: what a plugin author depends on.
//!
//! It will give authors record types and a one-attribute entry point (`#[partitioner]`,
//! `#[transform]`) over the raw, versioned plugin ABI, with the ABI stubbed off-wasm so plugin
//! logic is unit-testable natively. The WASM plugins issue fills it.
#![no_std]
