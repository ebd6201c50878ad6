// Medians of repeated runs (results.jsonl from run.sh) as a Markdown table.
import { readFileSync } from "node:fs";

const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.startsWith("{"));
const groups = new Map();
for (const r of lines.map((l) => JSON.parse(l))) {
  const key = `${r.engine}${r.options ? ` (${r.options})` : ""}${r.search_l ? `, search_l=${r.search_l}` : ""}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1] : undefined;
};
const cols = ["build_s", "db_mb", "pages_per_insert_median", "recall10", "qps", "p50_ms", "answers_differing_between_passes"];
const titles = ["build s", "DB MB", "pages / 1-row insert", "recall@10", "queries/s", "ms / query (mean)", "answers differing between 2 passes"];
console.log(`| engine / setting | runs | ${titles.join(" | ")} |`);
console.log(`|---|---|${cols.map(() => "---").join("|")}|`);
for (const [key, rs] of groups) {
  console.log(`| ${key} | ${rs.length} | ${cols.map((c) => median(rs.map((r) => r[c])) ?? "").join(" | ")} |`);
}
