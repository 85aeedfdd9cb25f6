// Embeds texts through `embedlab serve` with the official openai Node SDK, as a Node user would:
//   node embed.mjs BASE_URL MODEL < texts.json      (a JSON array of strings)
// Prints {"vectors": [[...], ...], "usage": {...}, "request_id": "..."} as JSON.
import OpenAI from "openai";
import { readFileSync } from "node:fs";

const [baseURL, model] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(0, "utf8"));
const client = new OpenAI({ baseURL, apiKey: process.env.OPENAI_API_KEY || "embedlab-local", maxRetries: 0, timeout: 60_000 });
const { data: response, request_id } = await client.embeddings.create({ model, input: texts }).withResponse();
const vectors = response.data.sort((a, b) => a.index - b.index).map((item) => Array.from(item.embedding));
process.stdout.write(JSON.stringify({ vectors, usage: response.usage, request_id: request_id ?? null }));
