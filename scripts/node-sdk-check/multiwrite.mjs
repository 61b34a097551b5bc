// Exercises a Meridian multi-write account (meridian dev --multi-write) with
// the official Node.js SDK (@azure/cosmos 4.10.1): writes land in each
// client's preferred region, a session token carried to another region
// reads the write, and conflicting writes made while the regions are cut
// apart (management API) converge, with the losers in the conflicts feed
// read through the SDK. Prints PASS/FAIL per check; exits non-zero on any
// failure.
//
//   MERIDIAN_ENDPOINT=http://127.0.0.1:8081/ node multiwrite.mjs
//
// Environment: MERIDIAN_ENDPOINT (any region), MERIDIAN_KEY (default: the
// emulator key), CHECK_VERBOSE=1.

import crypto from "node:crypto";
import { CosmosClient } from "@azure/cosmos";

const endpoint = process.env.MERIDIAN_ENDPOINT || "http://127.0.0.1:8081/";
const key =
  process.env.MERIDIAN_KEY ||
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
const verbose = process.env.CHECK_VERBOSE === "1";

let passed = 0;
let failed = 0;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function check(name, fn) {
  try {
    const note = await fn();
    passed++;
    console.log(`PASS ${name}${note ? ` (${note})` : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.message ? e.message.split("\n")[0] : e}`);
    if (verbose && e && e.stack) console.log(e.stack);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Signed call to the management API (resource type "", link the path).
async function manage(method, path, body) {
  const date = new Date().toUTCString();
  const text = `${method.toLowerCase()}\n\n${path}\n${date.toLowerCase()}\n\n`;
  const sig = crypto.createHmac("sha256", Buffer.from(key, "base64")).update(text).digest("base64");
  const res = await fetch(new URL(path, endpoint), {
    method,
    headers: {
      "x-ms-date": date,
      "x-ms-version": "2020-11-05",
      authorization: encodeURIComponent(`type=master&ver=1.0&sig=${sig}`),
      "content-type": "application/json",
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const client = (region) =>
  new CosmosClient({ endpoint, key, connectionPolicy: { preferredLocations: [region], enableEndpointDiscovery: true } });

const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
let regions = [];
let container = {}; // by region
let dbId = `mwcheck-${runId}`;

await check("the account has multiple write locations", async () => {
  const { resource } = await client("West US").getDatabaseAccount();
  regions = resource.writableLocations.map((l) => l.name);
  assert(resource.enableMultipleWritableLocations === true, "enableMultipleWritableLocations is not true");
  assert(regions.length >= 2, `writable locations: ${regions}`);
  return regions.join(", ");
});

await check("metadata writes from a non-first region (Custom conflict policy)", async () => {
  const last = regions[regions.length - 1];
  const { database } = await client(last).databases.create({ id: dbId });
  await database.containers.create({
    id: "c",
    partitionKey: { paths: ["/pk"] },
    conflictResolutionPolicy: { mode: "Custom" },
  });
  for (const r of regions) {
    const c = client(r);
    container[r] = c.database(dbId).container("c");
    for (let i = 0; ; i++) {
      try {
        await container[r].read();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await sleep(50);
      }
    }
  }
});

await check("each region accepts writes from its own clients", async () => {
  const served = [];
  for (const r of regions) {
    const res = await container[r].items.create({ id: `from-${r}`, pk: "p" });
    assert(res.statusCode === 201, `status ${res.statusCode}`);
    const got = res.headers["x-meridian-region"];
    assert(got === r, `written in ${got}, want ${r}`);
    served.push(got);
  }
  return served.join(", ");
});

await check("a session token carried to another region reads the write", async () => {
  const [a, b] = regions;
  const w = await container[a].items.upsert({ id: "synced", pk: "p", v: 1 });
  const token = w.headers["x-ms-session-token"];
  assert(/^0:\d+#\d+(#\d+=\d+)+$/.test(token), `vector token: ${token}`);
  const r = await container[b].item("synced", "p").read({ sessionToken: token });
  assert(r.statusCode === 200 && r.resource && r.resource.v === 1, `read in ${b}: ${r.statusCode}`);
  return `${token} read in ${r.headers["x-meridian-region"]}`;
});

await check("conflicting writes while partitioned converge; losers in the conflicts feed", async () => {
  const pairs = [];
  for (let i = 0; i < regions.length; i++)
    for (let j = i + 1; j < regions.length; j++) pairs.push([regions[i], regions[j]]);
  for (const [a, b] of pairs) await manage("POST", "_meridian/links", { a, b, partitioned: true });
  try {
    for (const r of regions) await container[r].items.upsert({ id: "hot", pk: "p", by: r });
  } finally {
    for (const [a, b] of pairs) await manage("POST", "_meridian/links", { a, b, partitioned: false });
  }
  let final;
  for (let i = 0; ; i++) {
    const got = [];
    for (const r of regions) {
      const { resource } = await container[r].item("hot", "p").read();
      got.push(resource && `${resource.by}/${resource._etag}`);
    }
    if (got.every((g) => g === got[0])) {
      final = got[0];
      break;
    }
    if (i > 200) throw new Error(`not converged: ${got}`);
    await sleep(50);
  }
  for (let i = 0; ; i++) {
    const { resources } = await container[regions[0]].conflicts.readAll().fetchAll();
    const hot = resources.filter((c) => c.resourceId === "hot");
    if (hot.length === regions.length - 1) {
      const ids = new Set(hot.map((c) => c.id));
      assert(ids.size === hot.length, "a loser appears twice");
      const contents = hot.map((c) => JSON.parse(c.content).by);
      assert(!contents.includes(final.split("/")[0]), "the winner is also in the feed");
      return `winner ${final.split("/")[0]}, losers ${contents.join(", ")}`;
    }
    if (i > 200) throw new Error(`conflicts feed: ${JSON.stringify(hot)}`);
    await sleep(50);
  }
});

await check("cleanup: database.delete", async () => {
  await client(regions[0]).database(dbId).delete();
});

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
