//! runnel-plugin-host: runs user WebAssembly plugins inside the broker.
//!
//! It will embed wasmtime to load a plugin module, call its `partition` or `transform` export
//! with a whole batch of records (encoded with the ABI types in `runnel-core`), and hold every
//! call to hard CPU and memory limits, so a trap or an endless loop costs one batch, never the
//! broker. The WASM plugins issue fills it.
