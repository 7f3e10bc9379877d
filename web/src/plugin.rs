//! Runs a plugin's `.wasm` in the browser's own WebAssembly engine through the same ABI the
//! broker's wasmtime host uses (`runnel_core::plugin`): the same module, the same postcard
//! batch, the same checks on the answer. The browser gives no CPU limit here; the page offers
//! it sample batches only.

use js_sys::{Function, Object, Reflect, Uint8Array, WebAssembly};
use runnel_core::plugin::{ABI_VERSION, PartitionRequest, decode_partitions, encode};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

fn js(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Instantiates `wasm` and asks its `runnel_partition` to place `request`'s records.
pub async fn partition(wasm: &[u8], request: &PartitionRequest) -> Result<Vec<u32>, String> {
    let imports = Object::new();
    let runnel = Object::new();
    let log = Closure::<dyn Fn(i32, i32)>::new(|_: i32, _: i32| {});
    Reflect::set(&runnel, &"log".into(), log.as_ref()).map_err(js)?;
    log.forget();
    Reflect::set(&imports, &"runnel".into(), &runnel).map_err(js)?;
    let created = JsFuture::from(WebAssembly::instantiate_buffer(wasm, &imports))
        .await
        .map_err(js)?;
    let instance = Reflect::get(&created, &"instance".into()).map_err(js)?;
    let exports = Reflect::get(&instance, &"exports".into()).map_err(js)?;
    let func = |name: &str| -> Result<Function, String> {
        Reflect::get(&exports, &name.into())
            .map_err(js)?
            .dyn_into::<Function>()
            .map_err(|_| format!("the module exports no function {name}"))
    };
    let version = func("runnel_abi_version")?
        .call0(&JsValue::NULL)
        .map_err(js)?
        .as_f64()
        .unwrap_or(-1.0);
    if version != f64::from(ABI_VERSION) {
        return Err(format!(
            "the module speaks ABI version {version}; this page speaks {ABI_VERSION}"
        ));
    }
    let bytes = encode(request);
    let len = bytes.len() as u32;
    let ptr = func("runnel_alloc")?
        .call1(&JsValue::NULL, &len.into())
        .map_err(js)?
        .as_f64()
        .ok_or("runnel_alloc returned no address")? as u32;
    let memory = Reflect::get(&exports, &"memory".into()).map_err(js)?;
    let buffer = || Reflect::get(&memory, &"buffer".into()).map_err(js);
    Uint8Array::new(&buffer()?).set(&Uint8Array::from(bytes.as_slice()), ptr);
    let packed = func("runnel_partition")?
        .call2(&JsValue::NULL, &ptr.into(), &len.into())
        .map_err(js)?;
    let packed = i64::try_from(packed).map_err(|_| "runnel_partition returned no i64")? as u64;
    let (out_ptr, out_len) = ((packed >> 32) as u32, (packed & 0xffff_ffff) as u32);
    let memory_now = Uint8Array::new(&buffer()?);
    if u64::from(out_ptr) + u64::from(out_len) > u64::from(memory_now.length()) {
        return Err("the answer lies outside the module's memory".into());
    }
    let answer = memory_now.subarray(out_ptr, out_ptr + out_len).to_vec();
    decode_partitions(request, &answer).map_err(|e| e.to_string())
}
