// openai_client.mjs: the official OpenAI SDK for JavaScript (npm "openai",
// tests/package.json) as a black-box client of silo's /v1 routes.
//
//   node tests/openai_client.mjs BASE_URL API_KEY '[{"op": "transcribe", "file": PATH, "params": {...}}, ...]'
//
// ops: "transcribe" (audio.transcriptions.create), "translate"
// (audio.translations.create), "models" (models.list, every page),
// "model" (models.retrieve(params.id)). Prints one JSON line per op:
// {"ok": true, "kind": typeof result, "result": ...} or
// {"ok": false, "status", "name", "error", "message"} for an APIError.
import fs from 'node:fs';
import OpenAI from 'openai';

const [, , baseURL, apiKey, opsJson] = process.argv;
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 300000 });

async function run(op) {
  const params = { ...(op.params || {}) };
  if (op.file) params.file = fs.createReadStream(op.file);
  switch (op.op) {
    case 'transcribe':
      return client.audio.transcriptions.create(params);
    case 'translate':
      return client.audio.translations.create(params);
    case 'models': {
      const all = [];
      for await (const model of client.models.list()) all.push(model);
      return all;
    }
    case 'model':
      return client.models.retrieve(params.id);
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

for (const op of JSON.parse(opsJson)) {
  try {
    const result = await run(op);
    console.log(JSON.stringify({ ok: true, kind: typeof result, result }));
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    console.log(JSON.stringify({ ok: false, status: e.status ?? null, name: e.constructor.name, error: e.error ?? null,
                                 message: e.message }));
  }
}
