// MCP tasks (protocol 2026-07-28, the tasks extension) through the official TypeScript SDK 2
// (@modelcontextprotocol/client) and its tasks client (@modelcontextprotocol/ext-tasks).
// Usage: node tasks_v2.mjs SERVER_CMD_JSON (run CMD | start CMD | get ID | result ID | cancel ID)
// Prints one JSON line on stdout; exit 0 = step done (a failed/cancelled task outcome is still a success), 1 = exception.
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { createTaskSessionFromClient, createTaskSessionEndpointId, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { GetTaskResultV2Schema } from "@modelcontextprotocol/ext-tasks/core/v2";

const [cmdJson, step, arg] = process.argv.slice(2);
const STEPS = ["run", "start", "get", "result", "cancel"];
if (!cmdJson || !STEPS.includes(step) || arg === undefined) {
  console.error(`usage: node tasks_v2.mjs '["/path/execq","mcp"]' (${STEPS.join("|")}) ARG`);
  process.exit(2);
}
const serverCmd = JSON.parse(cmdJson);
const CLIENT_INFO = { name: "execq-tasks-v2-test", version: "0.1.0" };
const CLIENT_CAPS = { extensions: { "io.modelcontextprotocol/tasks": {} } };
const out = { step, protocolVersion: null, task: null, outcome: null, result: null, error: null, wire: [] };
const debug = process.env.TASKS_V2_DEBUG ? (...a) => console.error("[tasks_v2]", ...a) : () => {};

// Subclassing StdioClientTransport makes the SDK probe `server/discover` IN PLACE on this one child process.
// (With the exact base class it spawns a throw-away sibling process just for the probe.)
class InPlaceStdioTransport extends StdioClientTransport {}
// env: the SDK otherwise passes only HOME/LOGNAME/PATH/SHELL/TERM/USER to the child.
const transport = new InPlaceStdioTransport({ command: serverCmd[0], args: serverCmd.slice(1), env: { ...process.env }, stderr: "inherit" });
const sdkSend = transport.send.bind(transport);
transport.send = (msg, opts) => {
  if (msg.method) out.wire.push(msg.method);
  debug("->", JSON.stringify(msg));
  return sdkSend(msg, opts);
};

// Host request coordinator for ext-tasks' `rawDispatch`: the SDK Client's own request() rejects
// `resultType:"task"` (UnsupportedResultType) and strips `resultType` from results, so tools/call and
// tasks/* go out on the same transport with our own (string) ids and come back undecoded.
const pending = new Map();
let rawSeq = 0;
function installRawCoordinator() {
  const sdkOnMessage = transport.onmessage, sdkOnClose = transport.onclose;
  transport.onmessage = (msg, extra) => {
    debug("<-", JSON.stringify(msg));
    if (msg.method === undefined && pending.has(msg.id)) return pending.get(msg.id)(msg);
    sdkOnMessage?.(msg, extra);
  };
  transport.onclose = () => {
    for (const settle of pending.values()) settle({ error: { code: -32000, message: "Connection closed" } });
    sdkOnClose?.();
  };
}
async function rawDispatch(request, options = {}) {
  const id = `tasks-${++rawSeq}`;
  const timeoutMs = options.context?.requestTimeoutMs ?? 60_000;
  const reply = new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`${request.method} timed out after ${timeoutMs}ms`))), timeoutMs);
    const onAbort = () => finish(() => reject(options.signal.reason ?? new Error("aborted")));
    const finish = (f) => { clearTimeout(timer); pending.delete(id); options.signal?.removeEventListener("abort", onAbort); f(); };
    pending.set(id, (msg) => finish(() => resolve(msg)));
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  await transport.send({ jsonrpc: "2.0", id, method: request.method, ...(request.params && { params: request.params }) });
  const msg = await reply;
  return msg.error ? { kind: "error", error: msg.error } : { kind: "result", result: msg.result };
}

const pickTask = (t) => t && Object.fromEntries(Object.entries(t.raw ?? t).filter(([k]) => k !== "result" && k !== "error"));
const errJson = (e) => ({ name: e?.name, message: e?.message ?? String(e), ...(e?.cause && { cause: errJson(e.cause) }), ...(e?.code !== undefined && { code: e.code }), ...(e?.data !== undefined && { data: e.data }) });
async function report(outcome, lastTask) {
  out.outcome = outcome.status;
  out.task = pickTask(outcome.task ?? lastTask) ?? out.task;
  try { out.result = resultFromTaskOutcome(outcome); } catch (e) { out.error = errJson(e); }
}

let code = 0, client, session;
try {
  client = new Client(CLIENT_INFO, { capabilities: CLIENT_CAPS, versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(transport);
  installRawCoordinator();
  out.protocolVersion = client.getNegotiatedProtocolVersion();
  if (client.getProtocolEra() !== "modern") throw new Error(`server did not negotiate a modern era (${out.protocolVersion})`);
  session = createTaskSessionFromClient(client, {
    endpointId: await createTaskSessionEndpointId("execq-mcp", serverCmd), // same cmd => same endpoint across processes
    rawDispatch,
    v2RequestFraming: { protocolVersion: out.protocolVersion, clientInfo: CLIENT_INFO, clientCapabilities: CLIENT_CAPS },
    onError: (e) => debug("session error:", e),
  });
  const reference = { endpointId: session.endpointId, generation: "v2", taskId: arg, originalOperation: "tools/call" };
  if (step === "run" || step === "start") {
    const execution = await session.callTool("submit_job", { shell: arg }, { task: { preference: "require" } });
    if (execution.kind !== "task") throw new Error("server answered immediately instead of with a task");
    out.task = { taskId: execution.handle.taskId };
    console.error(`task created: ${execution.handle.taskId}`);
    if (step === "start") {
      // Take the creation snapshot from the update stream, then hand off WITHOUT cancelling
      // (execution.close()/session.close() on an unsettled execution sends tasks/cancel).
      const first = await execution.updates()[Symbol.asyncIterator]().next();
      out.task = pickTask(first.value?.task) ?? out.task;
      await execution.handoff((ref) => { out.reference = ref; });
      await execution.result().catch(() => {});
    } else {
      const { outcome, lastTask } = await execution.settle();
      await report(outcome, lastTask);
    }
  } else if (step === "get") {
    // ext-tasks can do a plain tasks/get by id: session.task(id).snapshot() (TaskController).
    out.task = (await session.task(arg).snapshot()).raw;
    GetTaskResultV2Schema.parse(out.task); // re-validate the full wire shape incl. resultType:"complete"
  } else if (step === "result") {
    // Recovery on a fresh connection: resumeTask() with a reference rebuilt from the bare id.
    const execution = await session.resumeTask(reference);
    const { outcome, lastTask } = await execution.settle();
    await report(outcome, lastTask);
  } else if (step === "cancel") {
    await session.cancelTask(arg); // resolves void on {"resultType":"complete"}; throws on JSON-RPC error
    out.cancelAcknowledged = true;
    out.task = pickTask(await session.task(arg).snapshot());
  }
} catch (e) {
  code = 1;
  out.error = errJson(e);
} finally {
  await session?.close().catch(() => {});
  await client?.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(code);
