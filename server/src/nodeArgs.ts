// The Node flags the extension starts the language server with (extension/src/serverClient.ts),
// and that test/bench/server.bench.mjs starts it with, so the latency figures are the shipped
// server's. An edit allocates about 0.4 MB; with V8's small default young generation a scavenge
// came every few edits and made the p95 of edit -> diagnostics. A 16 MB semi-space makes it one
// every ~40 edits, for about 32 MB of reserved memory.
export const SERVER_NODE_ARGS: readonly string[] = ['--min-semi-space-size=16'];
