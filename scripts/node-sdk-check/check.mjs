// Exercises a Meridian endpoint with the official Node.js SDK
// (@azure/cosmos 4.10.1) and prints PASS/FAIL per check. Exits non-zero if
// any check fails.
//
//   cd scripts/node-sdk-check && npm install
//   MERIDIAN_ENDPOINT=http://127.0.0.1:8081/ node check.mjs
//
// Environment:
//   MERIDIAN_ENDPOINT  account endpoint (default http://127.0.0.1:8081/)
//   MERIDIAN_KEY       master key (default: the emulator's well-known key)
//   CHECK_TIMEOUT_MS   per-check timeout (default 30000)
//   CHECK_VERBOSE=1    print error stacks
//
// Failures are reported as found; the script never works around a server
// bug.

import { CosmosClient, ChangeFeedStartFrom, StatusCodes } from "@azure/cosmos";

const endpoint = process.env.MERIDIAN_ENDPOINT || "http://127.0.0.1:8081/";
const key =
  process.env.MERIDIAN_KEY ||
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
const checkTimeoutMs = Number(process.env.CHECK_TIMEOUT_MS || 30000);
const verbose = process.env.CHECK_VERBOSE === "1";

const clientOptions = {
  endpoint,
  key,
  connectionPolicy: { requestTimeout: 15000, enableEndpointDiscovery: true },
};
const client = new CosmosClient(clientOptions);

const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const dbId = `nodecheck-${runId}`;

let passed = 0;
let failed = 0;
const failures = [];

class CheckError extends Error {}

function assert(cond, msg) {
  if (!cond) throw new CheckError(msg);
}

function eq(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new CheckError(`${what}: got ${g}, want ${w}`);
}

function describeError(e) {
  if (e instanceof CheckError) return e.message;
  const parts = [];
  if (e && e.name && e.name !== "Error") parts.push(e.name);
  if (e && e.code !== undefined) parts.push(`code=${e.code}`);
  if (e && e.substatus !== undefined) parts.push(`substatus=${e.substatus}`);
  parts.push(String(e && e.message ? e.message : e).split("\n")[0].slice(0, 400));
  if (e && e.body && typeof e.body === "object") {
    parts.push(`body=${JSON.stringify(e.body).slice(0, 300)}`);
  }
  if (e && e.cause) parts.push(`cause=${describeError(e.cause)}`);
  return parts.join(" ");
}

async function check(name, fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`timed out after ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  try {
    const note = await Promise.race([fn(), timeout]);
    passed++;
    console.log(`PASS ${name}${note ? ` (${note})` : ""}`);
    return true;
  } catch (e) {
    failed++;
    const msg = describeError(e);
    failures.push(`${name}: ${msg}`);
    console.log(`FAIL ${name}: ${msg}`);
    if (verbose && e && e.stack) console.log(e.stack);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// expectCode runs fn, which must throw an error whose code is want.
async function expectCode(fn, want, what) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CheckError) throw e;
    if (e && e.code === want) return;
    throw new CheckError(`${what}: want an error with code ${want}, got ${describeError(e)}`);
  }
  throw new CheckError(`${what}: want an error with code ${want}, but it succeeded`);
}

function userFields(doc) {
  const out = {};
  for (const [k, v] of Object.entries(doc || {})) if (!k.startsWith("_")) out[k] = v;
  return out;
}

function sortedIds(docs) {
  return docs.map((d) => d.id).sort();
}

// ---------------------------------------------------------------------------

let database;
let container; // /pk, point operations
let qcontainer; // /pk, query data set

const seed = [];
for (let i = 0; i < 12; i++) {
  seed.push({ id: `q${String(i).padStart(2, "0")}`, pk: `p${i % 3}`, n: i, cat: `c${i % 4}`, even: i % 2 === 0 });
}

console.log(`endpoint ${endpoint}, database ${dbId}`);

await check("account: getDatabaseAccount", async () => {
  const { resource } = await client.getDatabaseAccount();
  assert(resource, "no account resource");
  assert(
    Array.isArray(resource.writableLocations) && resource.writableLocations.length > 0,
    `writableLocations empty: ${JSON.stringify(resource.writableLocations)}`,
  );
  return `write region ${resource.writableLocations[0].name}`;
});

await check("databases.createIfNotExists (new → 201, again → 200)", async () => {
  const r1 = await client.databases.createIfNotExists({ id: dbId });
  eq(r1.statusCode, 201, "first statusCode");
  eq(r1.resource.id, dbId, "resource.id");
  database = r1.database;
  const r2 = await client.databases.createIfNotExists({ id: dbId });
  eq(r2.statusCode, 200, "second statusCode");
  eq(r2.resource.id, dbId, "second resource.id");
});

await check("containers.createIfNotExists({id, partitionKey:{paths:['/pk']}})", async () => {
  const r1 = await database.containers.createIfNotExists({ id: "items", partitionKey: { paths: ["/pk"] } });
  eq(r1.statusCode, 201, "statusCode");
  eq(r1.resource.partitionKey.paths, ["/pk"], "partitionKey.paths");
  assert(r1.resource._rid, "container has no _rid");
  container = r1.container;
  const r2 = await database.containers.createIfNotExists({ id: "items", partitionKey: { paths: ["/pk"] } });
  eq(r2.statusCode, 200, "second statusCode");
  const r3 = await database.containers.createIfNotExists({ id: "query", partitionKey: { paths: ["/pk"] } });
  qcontainer = r3.container;
  return `kind=${r1.resource.partitionKey.kind} version=${r1.resource.partitionKey.version}`;
});

let etagA;
await check("items.create returns the document with id and _etag", async () => {
  const r = await container.items.create({ id: "a", pk: "p1", n: 1, tags: ["x"], nested: { s: "é" } });
  eq(r.statusCode, 201, "statusCode");
  assert(r.resource, "no resource in the response body");
  eq(r.resource.id, "a", "resource.id");
  assert(typeof r.resource._etag === "string" && r.resource._etag.length > 0, `_etag ${r.resource._etag}`);
  assert(Number.isInteger(r.resource._ts), `_ts ${r.resource._ts}`);
  eq(r.etag, r.resource._etag, "etag header vs _etag");
  etagA = r.resource._etag;
});

await check("items.create duplicate id → 409", async () => {
  await expectCode(() => container.items.create({ id: "a", pk: "p1" }), 409, "duplicate create");
});

await check("item.read", async () => {
  const r = await container.item("a", "p1").read();
  eq(r.statusCode, 200, "statusCode");
  eq(userFields(r.resource), { id: "a", pk: "p1", n: 1, tags: ["x"], nested: { s: "é" } }, "document");
  eq(r.etag, etagA, "etag");
});

await check("item.replace with IfMatch (right etag → 200, wrong etag → 412)", async () => {
  const r = await container
    .item("a", "p1")
    .replace({ id: "a", pk: "p1", n: 2, tags: ["x"], rm: true }, { accessCondition: { type: "IfMatch", condition: etagA } });
  eq(r.statusCode, 200, "statusCode");
  eq(r.resource.n, 2, "replaced n");
  assert(r.resource._etag && r.resource._etag !== etagA, "etag did not change on replace");
  await expectCode(
    () =>
      container
        .item("a", "p1")
        .replace({ id: "a", pk: "p1", n: 3 }, { accessCondition: { type: "IfMatch", condition: etagA } }),
    412,
    "replace with a stale etag",
  );
  const after = await container.item("a", "p1").read();
  eq(after.resource.n, 2, "n after the refused replace");
});

await check("item.patch (bare array of operations)", async () => {
  const r = await container.item("a", "p1").patch([
    { op: "incr", path: "/n", value: 5 },
    { op: "set", path: "/s", value: "patched" },
    { op: "add", path: "/tags/-", value: "y" },
    { op: "remove", path: "/rm" },
  ]);
  eq(r.statusCode, 200, "statusCode");
  assert(r.resource, "no resource in the patch response");
  eq(r.resource.n, 7, "n");
  eq(r.resource.s, "patched", "s");
  eq(r.resource.tags, ["x", "y"], "tags");
  assert(!("rm" in r.resource), "rm was not removed");
});

await check("item.patch ({condition, operations} form; false condition → 412)", async () => {
  const r = await container
    .item("a", "p1")
    .patch({ condition: "from c where c.n = 7", operations: [{ op: "replace", path: "/s", value: "cond" }] });
  eq(r.resource.s, "cond", "s");
  await expectCode(
    () =>
      container
        .item("a", "p1")
        .patch({ condition: "from c where c.n = 99", operations: [{ op: "set", path: "/s", value: "no" }] }),
    412,
    "patch with a false condition",
  );
});

await check("items.upsert (new → 201, existing → 200)", async () => {
  const r1 = await container.items.upsert({ id: "u", pk: "p2", v: 1 });
  eq(r1.statusCode, 201, "first statusCode");
  eq(r1.resource.v, 1, "first v");
  const r2 = await container.items.upsert({ id: "u", pk: "p2", v: 2 });
  eq(r2.statusCode, 200, "second statusCode");
  eq(r2.resource.v, 2, "second v");
  const r3 = await container.item("u", "p2").read();
  eq(r3.resource.v, 2, "read-back v");
});

await check("seed query container (12 items over 3 partitions)", async () => {
  for (const d of seed) await qcontainer.items.create(d);
});

// Query checks: each runs cross-partition and with partitionKey "p1", with
// the expected result computed locally.
const inP1 = seed.filter((d) => d.pk === "p1");
const byN = (a, b) => a.n - b.n;
const queries = [
  {
    name: "SELECT *",
    query: "SELECT * FROM c",
    want: (docs) => docs.map((d) => d.id).sort(),
    got: (rs) => sortedIds(rs),
  },
  {
    name: "WHERE with parameter",
    query: { query: "SELECT * FROM c WHERE c.n >= @min AND c.even = true", parameters: [{ name: "@min", value: 4 }] },
    want: (docs) => docs.filter((d) => d.n >= 4 && d.even).map((d) => d.id).sort(),
    got: (rs) => sortedIds(rs),
  },
  {
    name: "ORDER BY DESC",
    query: "SELECT c.id, c.n FROM c ORDER BY c.n DESC",
    want: (docs) => [...docs].sort(byN).reverse().map((d) => ({ id: d.id, n: d.n })),
    got: (rs) => rs,
  },
  {
    name: "SELECT VALUE COUNT(1)",
    query: "SELECT VALUE COUNT(1) FROM c",
    want: (docs) => [docs.length],
    got: (rs) => rs,
  },
  {
    name: "TOP with ORDER BY",
    query: "SELECT TOP 3 VALUE c.n FROM c ORDER BY c.n",
    want: (docs) => [...docs].sort(byN).slice(0, 3).map((d) => d.n),
    got: (rs) => rs,
  },
  {
    name: "OFFSET LIMIT with ORDER BY",
    query: "SELECT VALUE c.n FROM c ORDER BY c.n OFFSET 1 LIMIT 2",
    want: (docs) => [...docs].sort(byN).slice(1, 3).map((d) => d.n),
    got: (rs) => rs,
  },
  {
    name: "DISTINCT VALUE",
    query: "SELECT DISTINCT VALUE c.cat FROM c",
    want: (docs) => [...new Set(docs.map((d) => d.cat))].sort(),
    got: (rs) => [...rs].sort(),
  },
];

for (const q of queries) {
  for (const scope of ["cross-partition", "partitionKey p1"]) {
    await check(`items.query ${q.name} (${scope})`, async () => {
      const opts = scope === "cross-partition" ? {} : { partitionKey: "p1" };
      const docs = scope === "cross-partition" ? seed : inP1;
      const { resources } = await qcontainer.items.query(q.query, opts).fetchAll();
      eq(q.got(resources), q.want(docs), "result");
    });
  }
}

await check("items.query with maxItemCount 5 pages through continuations", async () => {
  const it = qcontainer.items.query("SELECT * FROM c", { maxItemCount: 5 });
  const all = [];
  let pages = 0;
  while (it.hasMoreResults()) {
    const { resources } = await it.fetchNext();
    pages++;
    all.push(...(resources || []));
    assert(pages < 50, "too many pages");
  }
  eq(sortedIds(all), sortedIds(seed), "ids");
  return `${pages} pages`;
});

await check("items.readAll", async () => {
  const { resources } = await qcontainer.items.readAll().fetchAll();
  eq(sortedIds(resources), sortedIds(seed), "ids");
});

await check("items.batch (Create, Upsert, Read, Patch, Delete) → 200", async () => {
  const r = await container.items.batch(
    [
      { operationType: "Create", resourceBody: { id: "b1", pk: "pb", v: 1 } },
      { operationType: "Upsert", resourceBody: { id: "b2", pk: "pb", v: 2 } },
      { operationType: "Read", id: "b1" },
      { operationType: "Patch", id: "b1", resourceBody: { operations: [{ op: "set", path: "/v", value: 10 }] } },
      { operationType: "Delete", id: "b2" },
    ],
    "pb",
  );
  eq(r.code, 200, "code");
  eq(
    (r.result || []).map((o) => o.statusCode),
    [201, 201, 200, 200, 204],
    "statusCodes",
  );
  eq(r.result[2].resourceBody && r.result[2].resourceBody.v, 1, "Read result v");
  const b1 = await container.item("b1", "pb").read();
  eq(b1.resource.v, 10, "b1.v after batch");
  const b2 = await container.item("b2", "pb").read();
  eq(b2.statusCode, 404, "b2 after batch delete");
});

await check("items.batch failing atomically → 207 with 424 for the others, nothing applied", async () => {
  const r = await container.items.batch(
    [
      { operationType: "Create", resourceBody: { id: "b3", pk: "pb" } },
      { operationType: "Create", resourceBody: { id: "b1", pk: "pb" } },
    ],
    "pb",
  );
  eq(r.code, 207, "code");
  eq(
    (r.result || []).map((o) => o.statusCode),
    [424, 409],
    "statusCodes",
  );
  const b3 = await container.item("b3", "pb").read();
  eq(b3.statusCode, 404, "b3 must not exist after the failed batch");
});

await check("item.delete → 204, then read → statusCode 404", async () => {
  const r = await container.item("u", "p2").delete();
  eq(r.statusCode, 204, "delete statusCode");
  const g = await container.item("u", "p2").read();
  eq(g.statusCode, 404, "read statusCode");
  assert(g.resource === undefined, `resource ${JSON.stringify(g.resource)}`);
  await expectCode(() => container.item("u", "p2").delete(), 404, "second delete");
});

await check("item.read of a never-written id → statusCode 404", async () => {
  const g = await container.item("never", "p9").read();
  eq(g.statusCode, 404, "statusCode");
});

await check("error bodies are JSON (read of a missing container → 404)", async () => {
  await expectCode(() => database.container("no-such-container").read(), 404, "container read");
});

await check("session consistency client reads its own write", async () => {
  const sclient = new CosmosClient({ ...clientOptions, consistencyLevel: "Session" });
  try {
    const sc = sclient.database(dbId).container("items");
    const w = await sc.items.create({ id: "s1", pk: "ps", v: 1 });
    const tok = w.headers["x-ms-session-token"];
    const contentPath = w.headers["x-ms-content-path"];
    assert(tok, "no x-ms-session-token on the create response");
    assert(contentPath, "no x-ms-content-path on the create response (the SDK then never sends session tokens)");
    await sc.item("s1", "ps").replace({ id: "s1", pk: "ps", v: 2 });
    const r = await sc.item("s1", "ps").read();
    eq(r.statusCode, 200, "statusCode");
    eq(r.resource.v, 2, "v");
    const q = await sc.items.query("SELECT VALUE c.v FROM c WHERE c.id = 's1'", { partitionKey: "ps" }).fetchAll();
    eq(q.resources, [2], "query result");
    return `token ${tok}, content-path ${contentPath}`;
  } finally {
    sclient.dispose();
  }
});

await check("change feed pull model from Beginning, then continuation", async () => {
  const cc = (await database.containers.createIfNotExists({ id: "feed", partitionKey: { paths: ["/pk"] } }))
    .container;
  for (let i = 0; i < 5; i++) await cc.items.create({ id: `f${i}`, pk: `p${i % 2}`, v: i });
  await cc.items.upsert({ id: "f0", pk: "p0", v: 100 });
  const it = cc.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
  const seen = new Map();
  let last;
  for (let i = 0; i < 20; i++) {
    last = await it.readNext();
    if (last.statusCode === StatusCodes.NotModified) break;
    for (const d of last.result) seen.set(d.id, d.v);
  }
  eq(last.statusCode, 304, "final statusCode");
  eq(
    [...seen.entries()].sort(),
    [["f0", 100], ["f1", 1], ["f2", 2], ["f3", 3], ["f4", 4]],
    "changes from Beginning (latest version per id)",
  );
  assert(last.continuationToken, "no continuation token after a 304 (the 304 needs an etag)");
  await cc.items.create({ id: "f5", pk: "p1", v: 5 });
  const more = [];
  for (let i = 0; i < 20; i++) {
    const r = await it.readNext();
    if (r.statusCode === StatusCodes.NotModified) break;
    more.push(...r.result.map((d) => d.id));
  }
  eq(more, ["f5"], "changes after the continuation");
  // A new iterator resumed from the saved continuation sees nothing new.
  const resumed = cc.items.getChangeFeedIterator({
    changeFeedStartFrom: ChangeFeedStartFrom.Continuation(last.continuationToken),
  });
  const rr = await resumed.readNext();
  const ids = rr.statusCode === 304 ? [] : rr.result.map((d) => d.id);
  eq(ids, ["f5"], "changes after resuming from the saved token");
});

await check("databases.readAll lists the test database", async () => {
  const { resources } = await client.databases.readAll().fetchAll();
  assert(
    resources.some((d) => d.id === dbId),
    `database ${dbId} not among ${resources.map((d) => d.id).join(",")}`,
  );
});

await check("cleanup: database.delete", async () => {
  const r = await database.delete();
  eq(r.statusCode, 204, "statusCode");
});

client.dispose();
console.log(`\n${passed} passed, ${failed} failed`);
if (failed > 0) {
  console.log("failures:");
  for (const f of failures) console.log(`  - ${f}`);
}
process.exit(failed > 0 ? 1 : 0);
