// Checks Standard Webhooks signatures with npm's `standardwebhooks` package: a verifier that
// is not ours, so a shared misreading of the spec cannot make our signer and our test agree.
// Reads JSON lines {"secret", "headers", "body"} on stdin (body: the raw request body as a
// string), prints one line per input: "ok", or "fail <reason>". The package lives in the
// project's npm folder (tests/browser, installed by ci/setup.sh's `npm ci`), so it is
// resolved from there rather than from this folder.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(new URL("../browser/package.json", import.meta.url));
const { Webhook } = require("standardwebhooks");

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    const { secret, headers, body } = JSON.parse(line);
    new Webhook(secret).verify(body, headers);
    console.log("ok");
  } catch (e) {
    console.log(`fail ${String(e && e.message ? e.message : e).replace(/\s+/g, " ")}`);
  }
}
