// CPU time of one scheduled invocation of the core in wasm, as a Worker
// runs it with a warm isolate: open the sentinel from the stored state,
// tick (every provider probed, canned answers), commit. Runs the
// `sentinel_tick_bench` export of tests/wasm-smoke under node (V8, the
// engine workerd embeds) and reports process CPU time per tick.
//
//   cargo build -p sentinel-wasm-smoke --target wasm32-unknown-unknown --profile wasm
//   node bench/wasm-tick.mjs [providers...]        (default: 50 100 1000)
import { readFileSync } from "node:fs";

const wasm = process.env.WASM ??
  `${process.env.CARGO_TARGET_DIR ?? `${process.env.HOME}/.cache/bookkeeper-sentinel/target`}/wasm32-unknown-unknown/wasm/sentinel_wasm_smoke.wasm`;
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), {});
const now = Date.UTC(2026, 10, 29, 12, 0, 0);
const lo = now % 2 ** 32, hi = Math.floor(now / 2 ** 32);
const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [50, 100, 1000]) {
  // Warm-up (JIT tiers up), then timed rounds; a run of `ticks` ticks
  // includes the first, which starts from an empty store.
  exports.sentinel_tick_bench(n, 3, lo, hi);
  const ticks = n >= 1000 ? 5 : 40;
  const rounds = [];
  let state = 0;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    state = exports.sentinel_tick_bench(n, ticks, lo, hi);
    const c = process.cpuUsage(c0);
    if (state === 0) { console.error(`bench failed at ${n} providers`); process.exit(1); }
    rounds.push((c.user + c.system) / 1000 / ticks);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${n} providers: ${rounds[2].toFixed(2)} ms CPU per tick (median of 5 rounds of ${ticks}; min ${rounds[0].toFixed(2)}), state ${state} B`);
}
