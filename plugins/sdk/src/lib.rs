//! runnel-plugin-sdk: what a plugin author depends on.
//!
//! A plugin is a `cdylib` crate built for `wasm32-unknown-unknown`. It writes plain functions
//! — a partitioner over [`RecordRef`] (borrowed from the request, no copies), a transform
//! over [`PluginRecord`] (owned, since it makes new records) — and names them in one
//! [`plugin!`] line; the macro emits the raw ABI
//! (see `runnel_core::plugin`): `runnel_abi_version`, `runnel_alloc`, and `runnel_partition`
//! and/or `runnel_transform`, each decoding a whole batch, calling the function per record and
//! encoding the answer. Off wasm the exports are not emitted, so the same functions are
//! unit-tested natively like any Rust code.
//!
//! A partitioner that routes by a `region` header, with a test:
//!
//! ```
//! use runnel_plugin_sdk::{PluginRecord, RecordRef, plugin};
//!
//! /// eu → 0, us → 1, anything else → the last partition.
//! fn by_region(record: &RecordRef<'_>, partitions: u32) -> u32 {
//!     match record.header("region") {
//!         Some(b"eu") => 0,
//!         Some(b"us") => 1 % partitions,
//!         _ => partitions - 1,
//!     }
//! }
//!
//! /// Drops debug records, upper-cases the rest.
//! fn shout(record: PluginRecord) -> Vec<PluginRecord> {
//!     if record.header("level") == Some(b"debug") {
//!         return vec![];
//!     }
//!     let value = record.value.as_ref().map(|v| v.to_ascii_uppercase());
//!     vec![PluginRecord { value, ..record }]
//! }
//!
//! plugin!(partition = by_region, transform = shout);
//!
//! let eu = RecordRef { headers: vec![("region", Some(&b"eu"[..]))], ..Default::default() };
//! assert_eq!(by_region(&eu, 4), 0);
//! assert_eq!(by_region(&RecordRef::default(), 4), 3);
//! let out = shout(PluginRecord { value: Some(b"hi".to_vec()), ..Default::default() });
//! assert_eq!(out[0].value.as_deref(), Some(&b"HI"[..]));
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown` and deploy the
//! `.wasm` from `target/wasm32-unknown-unknown/release/`.
#![no_std]

extern crate alloc;

#[doc(hidden)]
pub mod abi;

pub use runnel_core::plugin::{ABI_VERSION, PartitionRequest, PluginRecord, RecordRef};

/// Emits the plugin's ABI exports (on wasm only) for a partitioner
/// `fn(&RecordRef<'_>, partitions: u32) -> u32`, a transform `fn(PluginRecord) ->
/// Vec<PluginRecord>` (none drops the record, several split it), or both:
/// `plugin!(partition = f)`, `plugin!(transform = g)`, `plugin!(partition = f, transform = g)`.
#[macro_export]
macro_rules! plugin {
    (partition = $p:path, transform = $t:path $(,)?) => {
        $crate::__plugin_common!();
        $crate::__plugin_partition!($p);
        $crate::__plugin_transform!($t);
    };
    (partition = $p:path $(,)?) => {
        $crate::__plugin_common!();
        $crate::__plugin_partition!($p);
    };
    (transform = $t:path $(,)?) => {
        $crate::__plugin_common!();
        $crate::__plugin_transform!($t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_common {
    () => {
        /// The ABI version this plugin speaks.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn runnel_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        /// Reserves `len` bytes for the host's request.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn runnel_alloc(len: i32) -> i32 {
            $crate::abi::alloc(len)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_partition {
    ($p:path) => {
        /// Chooses a partition for each record of a batch.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn runnel_partition(ptr: i32, len: i32) -> i64 {
            $crate::abi::partition(ptr, len, $p)
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_transform {
    ($t:path) => {
        /// Transforms each record of a batch.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn runnel_transform(ptr: i32, len: i32) -> i64 {
            $crate::abi::transform(ptr, len, $t)
        }
    };
}
