//! runnel-plugin-host: runs user WebAssembly plugins with hard limits.
//!
//! A [`PluginHost`] owns a wasmtime engine and a ticker thread that advances the engine's
//! epoch every millisecond while a plugin runs (and sleeps otherwise, so an idle broker is
//! not woken a thousand times a second). [`PluginHost::load`] checks a module against the ABI in
//! `runnel_core::plugin` (exports, ABI version, no imports but `runnel.log`) and compiles it,
//! or loads the compiled code from the cache directory by content hash so a restart does not
//! recompile. Each [`Plugin`] call hands a whole batch over (postcard), under:
//!
//! - CPU: an epoch deadline of [`Limits::max_call`]; an endless loop traps when it passes.
//! - memory: a `ResourceLimiter` cap of [`Limits::max_memory`] bytes; growing past it traps.
//!
//! A trap, a timeout or a response that does not decode or fit the request is an error for
//! that batch; the instance is dropped and the next call gets a fresh one. No WASI, no other
//! imports.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use runnel_core::plugin::{
    ABI_VERSION, PartitionRequest, PartitionResponse, PluginRecord, ResponseError,
    TransformResponse, decode_partitions, decode_transformed, encode,
};
use sha2::{Digest, Sha256};
use wasmtime::{
    Caller, Config, Engine, ExternType, Instance, Linker, Memory, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};

/// Whether `bytes` may be a module: binary wasm (its magic number), or text that starts like
/// WAT (after white space and comments, a `(`). Anything else is refused with one plain line
/// rather than a WAT parser's excerpt of, say, a JPEG.
fn looks_like_a_module(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\0asm") {
        return true;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix(";;") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("(;") {
            rest = after.split_once(";)").map_or("", |(_, r)| r).trim_start();
        } else {
            return rest.starts_with('(');
        }
    }
}

/// How often the epoch advances: the resolution of [`Limits::max_call`].
const TICK: Duration = Duration::from_millis(1);
/// Log lines kept per plugin until taken.
const MAX_LOG_LINES: usize = 100;

/// Per-call limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest one call may run (rounded up to whole milliseconds).
    pub max_call: Duration,
    /// The most linear memory an instance may have, in bytes.
    pub max_memory: usize,
}

impl Default for Limits {
    /// 5 ms (so an endless loop is stopped within 10 ms, ticker jitter included; a
    /// thousand-record batch takes well under 1 ms) and 16 MiB.
    fn default() -> Self {
        Self {
            max_call: Duration::from_millis(5),
            max_memory: 16 << 20,
        }
    }
}

/// Why a plugin could not be loaded or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The module is not valid WebAssembly or does not follow the ABI.
    #[error("plugin {0}: {1}")]
    Invalid(String, String),
    /// The call ran past [`Limits::max_call`].
    #[error("plugin {0}: stopped after {1:?} (CPU limit)")]
    Timeout(String, Duration),
    /// The call tried to grow memory past [`Limits::max_memory`].
    #[error("plugin {0}: memory limit of {1} bytes reached")]
    Memory(String, usize),
    /// The call trapped.
    #[error("plugin {0}: trapped: {1}")]
    Trap(String, String),
    /// The call's answer is unusable.
    #[error("plugin {0}: bad response: {1}")]
    Response(String, ResponseError),
    /// The plugin has no such entry point.
    #[error("plugin {0} has no {1} export")]
    Missing(String, &'static str),
}

/// The wasmtime engine, its epoch ticker and the compiled-code cache.
pub struct PluginHost {
    engine: Engine,
    limits: Limits,
    cache_dir: Option<PathBuf>,
    ticker: Arc<Ticker>,
}

/// What the epoch ticker thread and the plugins share: it ticks only while a plugin runs.
#[derive(Default)]
struct Ticker {
    /// Plugin calls (and instantiations) running now.
    running: AtomicUsize,
    /// The host is gone: the thread ends.
    stop: AtomicBool,
    /// The ticker thread, to wake it from its park.
    thread: OnceLock<std::thread::Thread>,
}

impl Ticker {
    /// Marks a plugin as running until the returned guard drops; wakes the ticker.
    fn running(&self) -> Running<'_> {
        if self.running.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
        Running(self)
    }

    /// The ticker thread's loop: advance `engine`'s epoch every [`TICK`] while anything runs.
    fn run(&self, engine: &Engine) {
        while !self.stop.load(Ordering::Relaxed) {
            if self.running.load(Ordering::SeqCst) == 0 {
                // An unpark that came before this park makes it return at once.
                std::thread::park();
                continue;
            }
            std::thread::sleep(TICK);
            engine.increment_epoch();
        }
    }
}

/// A plugin runs while this lives ([`Ticker::running`]).
struct Running<'a>(&'a Ticker);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PluginHost {
    /// An engine with epoch interruption, and a thread ticking it; compiled modules are
    /// cached in `cache_dir` when given.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(|e| PluginError::Invalid("engine".into(), e.to_string()))?;
        let ticker = Arc::new(Ticker::default());
        let (ticking, engine_ticked) = (ticker.clone(), engine.clone());
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || ticking.run(&engine_ticked))
            .map_err(|e| PluginError::Invalid("epoch thread".into(), e.to_string()))?;
        let _ = ticker.thread.set(thread.thread().clone());
        Ok(Self {
            engine,
            limits,
            cache_dir,
            ticker,
        })
    }

    /// Checks and compiles `wasm` (binary, or text with the `wat` syntax) as plugin `name`,
    /// using the cache when it holds this exact module for this engine.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Plugin, PluginError> {
        let invalid = |e: &dyn std::fmt::Display| PluginError::Invalid(name.into(), e.to_string());
        if !looks_like_a_module(wasm) {
            return Err(invalid(
                &"not a WebAssembly module: expected binary .wasm (starting with \\0asm) or WebAssembly text (.wat)",
            ));
        }
        let module = match self.cached_path(wasm) {
            Some(path) => match self.cached_module(&path) {
                Some(module) => module,
                None => {
                    let module = Module::new(&self.engine, wasm).map_err(|e| invalid(&e))?;
                    if let Ok(bytes) = module.serialize() {
                        let _ = write_atomically(&path, &bytes);
                    }
                    module
                }
            },
            None => Module::new(&self.engine, wasm).map_err(|e| invalid(&e))?,
        };
        for import in module.imports() {
            let allowed = import.module() == "runnel"
                && import.name() == "log"
                && matches!(import.ty(), ExternType::Func(_));
            if !allowed {
                return Err(invalid(&format!(
                    "imports {}.{}; a plugin may import only runnel.log",
                    import.module(),
                    import.name()
                )));
            }
        }
        let mut linker = Linker::new(&self.engine);
        linker
            .func_wrap("runnel", "log", log_line)
            .map_err(|e| invalid(&e))?;
        let mut plugin = Plugin {
            name: name.to_string(),
            engine: self.engine.clone(),
            module,
            linker,
            limits: self.limits,
            ticker: self.ticker.clone(),
            live: None,
            logs: Vec::new(),
        };
        let live = plugin.instantiate()?;
        if live.partition.is_none() && live.transform.is_none() {
            return Err(invalid(
                &"exports neither runnel_partition nor runnel_transform",
            ));
        }
        plugin.live = Some(live);
        Ok(plugin)
    }

    /// Where the compiled form of `wasm` is cached, if there is a cache.
    fn cached_path(&self, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hash = Sha256::new();
        hash.update(wasm);
        let mut engine_hash = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(
            &self.engine.precompile_compatibility_hash(),
            &mut engine_hash,
        );
        let name = format!(
            "{:x}-{:016x}.cwasm",
            hash.finalize(),
            std::hash::Hasher::finish(&engine_hash)
        );
        Some(dir.join(name))
    }

    /// The cached module at `path`, if it exists and this engine accepts it.
    fn cached_module(&self, path: &Path) -> Option<Module> {
        if !path.exists() {
            return None;
        }
        // SAFETY: wasmtime requires that deserialized bytes come from `Module::serialize` of a
        // compatible engine. The cache directory is the broker's own; files are written
        // atomically by `load` from `serialize`, and named by the source's SHA-256 and this
        // engine's compatibility hash; wasmtime also checks the header and rejects a mismatch.
        unsafe { Module::deserialize_file(&self.engine, path) }.ok()
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.ticker.thread.get() {
            thread.unpark();
        }
    }
}

/// Writes `bytes` to `path` via a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// A wasmtime error as the plugin error a user reads.
fn classify(name: &str, limits: Limits, error: wasmtime::Error) -> PluginError {
    if error.downcast_ref::<MemoryCapReached>().is_some() {
        return PluginError::Memory(name.to_string(), limits.max_memory);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Timeout(name.to_string(), limits.max_call),
        _ => PluginError::Trap(name.to_string(), format!("{error:#}")),
    }
}

/// What a store carries: the memory limiter and the plugin's log lines.
struct State {
    limits: MemoryCap,
    logs: Vec<String>,
}

/// The error a refused memory growth traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit reached")]
struct MemoryCapReached;

/// Wasmtime's store limits, but a refused growth traps with [`MemoryCapReached`] so it can be
/// told apart from other traps.
struct MemoryCap {
    max: usize,
    others: StoreLimits,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max {
            return Err(wasmtime::Error::new(MemoryCapReached));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.others.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        self.others.tables()
    }
}

/// `runnel.log(ptr, len)`: one UTF-8 line into the plugin's log.
fn log_line(mut caller: Caller<'_, State>, ptr: i32, len: i32) {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return;
    };
    let (start, len) = (ptr as u32 as usize, (len as u32 as usize).min(4096));
    let mut buf = vec![0u8; len];
    if memory.read(&caller, start, &mut buf).is_ok() && caller.data().logs.len() < MAX_LOG_LINES {
        let line = String::from_utf8_lossy(&buf).into_owned();
        caller.data_mut().logs.push(line);
    }
}

/// A live instance and its entry points.
struct Live {
    store: Store<State>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    partition: Option<TypedFunc<(i32, i32), i64>>,
    transform: Option<TypedFunc<(i32, i32), i64>>,
}

/// One loaded plugin; calls are serialised by `&mut self`.
pub struct Plugin {
    name: String,
    engine: Engine,
    module: Module,
    linker: Linker<State>,
    limits: Limits,
    ticker: Arc<Ticker>,
    live: Option<Live>,
    logs: Vec<String>,
}

impl Plugin {
    /// The name it was loaded as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it exports `runnel_partition`.
    pub fn is_partitioner(&self) -> bool {
        self.module.get_export("runnel_partition").is_some()
    }

    /// Whether it exports `runnel_transform`.
    pub fn is_transform(&self) -> bool {
        self.module.get_export("runnel_transform").is_some()
    }

    /// The log lines the plugin wrote since the last call to this.
    pub fn take_logs(&mut self) -> Vec<String> {
        if let Some(live) = &mut self.live {
            self.logs.append(&mut live.store.data_mut().logs);
        }
        std::mem::take(&mut self.logs)
    }

    /// A fresh instance, checked against the ABI.
    fn instantiate(&self) -> Result<Live, PluginError> {
        let _running = self.ticker.running();
        let invalid =
            |e: &dyn std::fmt::Display| PluginError::Invalid(self.name.clone(), e.to_string());
        let state = State {
            limits: MemoryCap {
                max: self.limits.max_memory,
                others: StoreLimitsBuilder::new().trap_on_grow_failure(true).build(),
            },
            logs: Vec::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let instance: Instance = self
            .linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| classify(&self.name, self.limits, e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| invalid(&"exports no memory"))?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, "runnel_abi_version")
            .map_err(|e| invalid(&format!("runnel_abi_version: {e}")))?;
        store.set_epoch_deadline(self.deadline_ticks());
        let got = version
            .call(&mut store, ())
            .map_err(|e| classify(&self.name, self.limits, e))?;
        if got != ABI_VERSION {
            return Err(invalid(&format!(
                "speaks ABI version {got}; this host speaks {ABI_VERSION}"
            )));
        }
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "runnel_alloc")
            .map_err(|e| invalid(&format!("runnel_alloc: {e}")))?;
        let entry = |store: &mut Store<State>, name: &str| -> Result<_, PluginError> {
            match instance.get_export(&mut *store, name) {
                None => Ok(None),
                Some(_) => instance
                    .get_typed_func::<(i32, i32), i64>(&mut *store, name)
                    .map(Some)
                    .map_err(|e| invalid(&format!("{name}: {e}"))),
            }
        };
        let partition = entry(&mut store, "runnel_partition")?;
        let transform = entry(&mut store, "runnel_transform")?;
        Ok(Live {
            store,
            memory,
            alloc,
            partition,
            transform,
        })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.max_call.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
    }

    /// Sends `request` to the entry point `which` and returns the response bytes; on any
    /// failure the instance is dropped so the next call starts fresh.
    fn call(&mut self, which: &'static str, request: &[u8]) -> Result<Vec<u8>, PluginError> {
        if self.live.is_none() {
            self.live = Some(self.instantiate()?);
        }
        let result = self.call_live(which, request);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Drops the instance (keeping its log lines): the next call gets a fresh one.
    fn reset(&mut self) {
        if let Some(mut live) = self.live.take() {
            self.logs.append(&mut live.store.data_mut().logs);
        }
    }

    fn call_live(&mut self, which: &'static str, request: &[u8]) -> Result<Vec<u8>, PluginError> {
        let deadline = self.deadline_ticks();
        let _running = self.ticker.running();
        let (name, limits) = (self.name.as_str(), self.limits);
        let live = self
            .live
            .as_mut()
            .ok_or_else(|| PluginError::Missing(name.to_string(), which))?;
        let func = match which {
            "runnel_partition" => live.partition.clone(),
            _ => live.transform.clone(),
        }
        .ok_or_else(|| PluginError::Missing(name.to_string(), which))?;
        let trap = |what: &str| PluginError::Trap(name.to_string(), what.to_string());
        let len = i32::try_from(request.len()).map_err(|_| trap("batch over 2 GiB"))?;
        live.store.set_epoch_deadline(deadline);
        let ptr = live
            .alloc
            .call(&mut live.store, len)
            .map_err(|e| classify(name, limits, e))?;
        live.memory
            .write(&mut live.store, ptr as u32 as usize, request)
            .map_err(|_| trap("runnel_alloc returned memory out of bounds"))?;
        live.store.set_epoch_deadline(deadline);
        let packed = func
            .call(&mut live.store, (ptr, len))
            .map_err(|e| classify(name, limits, e))?;
        let (out_ptr, out_len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        let data = live.memory.data(&live.store);
        data.get(out_ptr..out_ptr.saturating_add(out_len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                PluginError::Response(
                    name.to_string(),
                    ResponseError::Malformed(format!(
                        "{out_len} bytes at {out_ptr} lie outside its {} bytes of memory",
                        data.len()
                    )),
                )
            })
    }

    /// Asks the plugin for a partition for each record of `request`.
    pub fn partition(
        &mut self,
        request: &PartitionRequest,
    ) -> Result<PartitionResponse, PluginError> {
        let bytes = self.call("runnel_partition", &encode(request))?;
        decode_partitions(request, &bytes).map_err(|e| {
            self.reset();
            PluginError::Response(self.name.clone(), e)
        })
    }

    /// Asks the plugin what each record of `records` becomes.
    pub fn transform(
        &mut self,
        records: &[PluginRecord],
    ) -> Result<TransformResponse, PluginError> {
        let bytes = self.call("runnel_transform", &encode(&records))?;
        decode_transformed(records.len(), &bytes).map_err(|e| {
            self.reset();
            PluginError::Response(self.name.clone(), e)
        })
    }
}
