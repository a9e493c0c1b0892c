// The V8 inspector of a Worker's isolate in workerd: how the memory part measures the
// isolate itself rather than the whole workerd process. Miniflare's top-level
// `inspectorPort` (without `unsafeInspectorProxy`) makes workerd listen there itself;
// GET /json lists one target per isolate, `core:user:<name>` for the Worker named
// <name>, and its webSocketDebuggerUrl speaks the Chrome DevTools Protocol (Node 24's
// global WebSocket).

import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Connects to the isolate of the Worker `name`; returns { send(method, params), close() }. */
export async function connectIsolate(port, name) {
  const want = `core:user:${name}`;
  let targets = [];
  // workerd may list the isolate a moment after Miniflare is ready.
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/json`);
    targets = await r.json();
    if (targets.some((t) => t.id === want || t.title === want)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const target = targets.find((t) => t.id === want || t.title === want);
  if (!target) throw new Error(`inspector on ${port}: no target ${want} (found ${targets.map((t) => t.id ?? t.title).join(", ")})`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error(`inspector: cannot connect to ${target.webSocketDebuggerUrl}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map();
  const contexts = [];
  ws.addEventListener("message", (ev) => {
    const msg = JSON.parse(typeof ev.data === "string" ? ev.data : Buffer.from(ev.data).toString());
    if (msg.method === "Runtime.executionContextCreated") contexts.push(msg.params.context);
    const p = msg.id != null && pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
    else p.resolve(msg.result);
  });
  ws.addEventListener("close", () => {
    for (const p of pending.values()) p.reject(new Error(`inspector closed during ${p.method}`));
    pending.clear();
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, contexts, close: () => ws.close() };
}

/**
 * What the isolate holds, in bytes. `heapUsedBeforeGc`: Runtime.getHeapUsage's usedSize
 * as found (garbage V8 has not collected yet included). Then Runtime.queryObjects on
 * WebAssembly.Memory.prototype, which runs a full garbage collection before it lists
 * the live WebAssembly.Memory objects (workerd's inspector does not answer
 * HeapProfiler.collectGarbage), and again getHeapUsage: `heapUsed` and `heapTotal` (the
 * JS heap, live objects only), `backingStore` (backingStorageSize: ArrayBuffer backing
 * stores outside the JS heap; null if this V8 does not report it; it does not count a
 * wasm memory, which this workerd shows as its 1.3 MB of a fresh tokengate isolate
 * missing from its 0.23 MB) and `wasmMemory` (the byteLength of every live
 * WebAssembly.Memory, summed; 0 for a Worker without wasm; a wasm memory never
 * shrinks, so this is the peak of what the wasm module allocated). `isolate` = heapUsed
 * + backingStore + wasmMemory, the figure to hold against the 128 MB a Workers isolate
 * may use.
 */
export async function isolateMemory(insp) {
  if (!insp.contextId) {
    await insp.send("Runtime.enable");
    for (let i = 0; i < 50 && insp.contexts.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const ctx = insp.contexts.find((c) => c.name === "Worker") ?? insp.contexts[0];
    if (!ctx) throw new Error("inspector: the isolate reported no execution context");
    insp.contextId = ctx.id;
  }
  const before = await insp.send("Runtime.getHeapUsage");
  const proto = await insp.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype", contextId: insp.contextId, objectGroup: "bench" });
  const found = await insp.send("Runtime.queryObjects", { prototypeObjectId: proto.result.objectId, objectGroup: "bench" });
  const sizes = await insp.send("Runtime.callFunctionOn", {
    objectId: found.objects.objectId,
    functionDeclaration: "function () { return this.map((m) => m.buffer.byteLength); }",
    returnByValue: true,
  });
  await insp.send("Runtime.releaseObjectGroup", { objectGroup: "bench" });
  const usage = await insp.send("Runtime.getHeapUsage");
  const wasm = sizes.result.value;
  if (!Array.isArray(wasm)) throw new Error("inspector: no list of WebAssembly.Memory sizes");
  const wasmMemory = wasm.reduce((a, b) => a + b, 0);
  const backingStore = typeof usage.backingStorageSize === "number" ? usage.backingStorageSize : null;
  return {
    heapUsedBeforeGc: before.usedSize,
    heapUsed: usage.usedSize,
    heapTotal: usage.totalSize,
    backingStore,
    wasmMemories: wasm.length,
    wasmMemory,
    isolate: usage.usedSize + (backingStore ?? 0) + wasmMemory,
  };
}
