// Node workload for the default dump: JS objects, a Map, JSON round trip, typed arrays.
// Generated data only (seeded LCG), about 150 MB resident.  Prints READY and waits until killed.
"use strict";
let seed = 12345;
function rnd() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const SYL = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "vo", "zen", "pa", "qui", "dor"];
function word() {
  let w = "";
  const n = 2 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) w += SYL[Math.floor(rnd() * SYL.length)];
  return w;
}
const scale = Number(process.argv[2] || "1");
const items = [];
for (let i = 0; i < 200000 * scale; i++) {
  items.push({
    id: i,
    sku: "SKU-" + (100000 + i).toString(36).toUpperCase(),
    title: word() + " " + word(),
    price: Math.round(rnd() * 100000) / 100,
    stock: Math.floor(rnd() * 500),
    tags: [word(), word()],
    dims: { w: Math.floor(rnd() * 90), h: Math.floor(rnd() * 90) },
  });
}
const bySku = new Map();
for (const it of items) bySku.set(it.sku, it);
const copy = JSON.parse(JSON.stringify(items.slice(0, 60000 * scale)));
const walk = new Float64Array(500000 * scale);
for (let i = 1; i < walk.length; i++) walk[i] = walk[i - 1] + (rnd() - 0.5);
const counts = new Int32Array(500000 * scale);
for (let i = 0; i < counts.length; i++) counts[i] = Math.floor(-Math.log(1 - rnd()) * 20);
const text = [];
for (let i = 0; i < 50000 * scale; i++) text.push(`order ${i} by ${word()} total=${(rnd() * 900).toFixed(2)}`);
globalThis.keep = [items, bySku, copy, walk, counts, text];
process.stdout.write("READY\n");
setInterval(() => {}, 1 << 30);
