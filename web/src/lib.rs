//! runnel-web: the interactive browser playground.
//!
//! It will run `runnel_core::sim` (a whole simulated cluster) inside the page with Yew and
//! wasm-bindgen, and let people kill brokers, cut links, produce with keys, add consumers and
//! compact logs while watching offsets, ISR, high watermarks and leader epochs move. Today the
//! crate only ties the playground to the core it will run; the browser playground issue fills
//! it.
