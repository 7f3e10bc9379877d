//! runnel-node: the native broker binary `runnel`.
//!
//! Its job is to be a thin tokio driver around `runnel-core`: speak the Kafka wire protocol on
//! TCP (default 127.0.0.1:9092), keep segments on disk in Kafka's layout (default
//! `./runnel-data`), serve `/metrics`, `/healthz` and the playground on the admin port, and
//! replicate between nodes. None of that is built yet: until the single-node broker lands, this
//! binary says so and exits with status 2, so nobody mistakes it for a broker.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "runnel {}: the Kafka listener (127.0.0.1:9092, data in ./runnel-data) is not built yet.\n\
         What exists today is runnel-core, the log engine it will drive: see README.md.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
