//! Builds the browser playground (web/) and embeds it, so `cargo run --bin runnel` serves it
//! with nothing installed by hand: a nested `cargo build` of `runnel-web` for
//! wasm32-unknown-unknown (its own target directory, `target/playground`), then the
//! wasm-bindgen library (the same version `runnel-web` pins) for the JS glue. The files go to
//! `target/playground/dist` (plain static files) and into the binary.
//!
//! `RUNNEL_PLAYGROUND=skip` embeds a page saying the playground was not built instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().expect("node/ has a parent").to_path_buf();
    let out = PathBuf::from(env("OUT_DIR"));
    for dir in [
        "web/src",
        "web/static",
        "web/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=RUNNEL_PLAYGROUND");
    let files = if std::env::var("RUNNEL_PLAYGROUND").as_deref() == Ok("skip") {
        vec![(
            "index.html".to_string(),
            b"<!doctype html><p>This runnel was built with RUNNEL_PLAYGROUND=skip: no playground.</p>"
                .to_vec(),
        )]
    } else {
        build(&workspace)
    };
    let mut table = String::from(
        "/// The playground's files: (path, bytes).\npub(super) static FILES: &[(&str, &[u8])] = &[\n",
    );
    let assets = out.join("playground");
    std::fs::create_dir_all(&assets).expect("OUT_DIR/playground");
    for (name, bytes) in &files {
        let path = assets.join(name);
        std::fs::write(&path, bytes).expect("write asset");
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("playground.rs"), table).expect("write playground.rs");
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set by cargo"))
}

/// Builds the wasm, generates the glue, and returns every file of the page.
fn build(workspace: &Path) -> Vec<(String, Vec<u8>)> {
    let target_dir = workspace.join("target/playground");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "runnel-web",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // What the outer build set for itself must not leak into this one.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .status()
        .expect("run cargo for the playground");
    assert!(
        status.success(),
        "building the playground (runnel-web for wasm32-unknown-unknown) failed; \
         `rustup target add wasm32-unknown-unknown` if the target is missing, or set \
         RUNNEL_PLAYGROUND=skip"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/runnel_web.wasm");
    let glue = target_dir.join("bindgen");
    let _ = std::fs::remove_dir_all(&glue);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .expect("web target")
        .typescript(false)
        .generate(&glue)
        .expect("wasm-bindgen");
    let mut files = Vec::new();
    for name in ["runnel_web.js", "runnel_web_bg.wasm"] {
        files.push((
            name.to_string(),
            std::fs::read(glue.join(name)).expect("generated file"),
        ));
    }
    for name in ["index.html", "style.css"] {
        files.push((
            name.to_string(),
            std::fs::read(workspace.join("web/static").join(name)).expect("static file"),
        ));
    }
    let dist = target_dir.join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    for (name, bytes) in &files {
        std::fs::write(dist.join(name), bytes).expect("write dist");
    }
    let wasm_bytes = &files[1].1;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(wasm_bytes).expect("gzip");
    let gzipped = gz.finish().expect("gzip").len();
    println!(
        "cargo:warning=playground: runnel_web_bg.wasm {} KiB, {} KiB gzipped (goal: ≤ 1024 KiB gzipped), in {}",
        wasm_bytes.len() / 1024,
        gzipped / 1024,
        dist.display()
    );
    files
}
