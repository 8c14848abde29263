// Reads a load generator .hlog with hdr-histogram-js, an HdrHistogram implementation independent of ours, and
// checks it against a loadgen JSON result (a run's --json, or `loadgen merge --json` of the same log): the same
// number of values, and the same percentiles and max to within the bucket they fall in.
//
//   node tests/js/check_hlog.js RUN.hlog RUN.json [--intervals N]
//
// Exit status 0 when everything matches (one summary line on stdout), 1 with the first difference on stderr.
"use strict";
const fs = require("fs");
const hdr = require("hdr-histogram-js");

function fail(message) {
  process.stderr.write(`check_hlog: ${message}\n`);
  process.exit(1);
}

const [logPath, jsonPath, ...rest] = process.argv.slice(2);
if (!logPath || !jsonPath) fail("usage: check_hlog.js RUN.hlog RUN.json [--intervals N]");
const wantIntervals = rest[0] === "--intervals" ? Number(rest[1]) : null;
const expected = JSON.parse(fs.readFileSync(jsonPath, "utf8"));

// 64-bit buckets (JS doubles): counts are not limited to 2^31, as they are not in our log.
const reader = new hdr.HistogramLogReader(fs.readFileSync(logPath, "utf8"), 64);
const totals = {};
let intervals = 0;
let firstStartMs = null;
for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
  const tag = h.tag === hdr.JsHistogram.NO_TAG || h.tag === undefined || h.tag === "NO TAG" ? "" : h.tag;
  if (!totals[tag]) {
    totals[tag] = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: h.lowestDiscernibleValue,
                              highestTrackableValue: h.highestTrackableValue,
                              numberOfSignificantValueDigits: h.numberOfSignificantValueDigits });
  }
  totals[tag].add(h);
  if (tag === "") {
    intervals++;
    if (firstStartMs === null) firstStartMs = h.startTimeStampMsec;
  }
}
if (!totals[""]) fail(`${logPath}: no untagged interval histogram`);
if (wantIntervals !== null && intervals !== wantIntervals) fail(`${intervals} intervals, expected ${wantIntervals}`);
if (expected.start_time && Math.abs(firstStartMs / 1000 - expected.start_time) > 0.002) {
  fail(`first interval starts at ${firstStartMs / 1000}, the run's window at ${expected.start_time}`);
}

function compare(tag, js, ours) {
  const what = tag === "" ? "latency" : tag;
  if (js.totalCount !== ours.count) fail(`${what}: ${js.totalCount} values in the log, ${ours.count} in the JSON`);
  // Our percentiles are capped at the exact max; HdrHistogram answers the top of the max's bucket.
  const near = (mine, theirs) =>
    mine === theirs || (mine === ours.max && js.lowestEquivalentValue(theirs) <= mine && mine <= theirs);
  if (!near(ours.max, js.maxValue)) fail(`${what}: max ${js.maxValue} in the log, ${ours.max} in the JSON`);
  const checked = [];
  for (const p of [50, 90, 99, 99.9, 99.99]) {
    const key = "p" + String(p);
    const theirs = js.getValueAtPercentile(p);
    if (!near(ours[key], theirs)) fail(`${what}: ${key} is ${theirs} in the log, ${ours[key]} in the JSON`);
    checked.push(`${key}=${theirs}`);
  }
  return `${what}: ${js.totalCount} values, ${checked.join(" ")} max=${js.maxValue}`;
}

const lines = [compare("", totals[""], expected.latency_ns)];
if (totals.service_time) lines.push(compare("service_time", totals.service_time, expected.service_time_ns));
console.log(`${intervals} intervals; ` + lines.join("; "));
