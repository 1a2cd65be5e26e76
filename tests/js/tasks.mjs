// MCP tasks (protocol 2025-11-25) through the official TypeScript SDK's tasks client.
// Usage: node tasks.mjs EXECQ QUEUE STEP [TASK_ID]; prints one JSON line with what it saw.
//   run        submit_job as a task (`sleep 5; echo done`): its stream, then get, result, list
//   start CMD  submit_job CMD as a task, print the task, and exit at once (the server goes too)
//   killed CMD as start, but the server is killed (SIGKILL) instead of closed
//   get ID     tasks/get                 result ID   tasks/result (waits for the end)
//   cancel ID  tasks/cancel              plain CMD   submit_job without a task, as before
//   watch CMD  submit_job CMD, subscribe to its record, wait for the update, read its stdout
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [execq, queue, step, arg] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: execq, args: ["--queue", queue, "mcp"], stderr: "ignore" });
const client = new Client({ name: "execq-tasks-test", version: "0" });
await client.connect(transport);
const tasks = client.experimental.tasks;
const out = {};
// The SDK asks for a task by itself only for tools whose listing says they support one.
const { tools } = await client.listTools();
out.taskSupport = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport ?? null]));
out.capabilities = client.getServerCapabilities()?.tasks ?? null;

async function stream(command) {
  const seen = [];
  for await (const message of tasks.callToolStream({ name: "submit_job", arguments: { shell: command } })) {
    seen.push(message);
    if ((step === "start" || step === "killed") && message.type === "taskCreated") break;
  }
  return seen;
}

switch (step) {
  case "run": {
    const seen = await stream("sleep 5; echo done");
    out.types = seen.map((m) => m.type);
    const created = seen.find((m) => m.type === "taskCreated");
    out.task = created?.task ?? null;
    const last = seen[seen.length - 1];
    out.result = last.type === "result" ? last.result : null;
    out.error = last.type === "error" ? String(last.error) : null;
    if (out.task) {
      out.get = await tasks.getTask(out.task.taskId);
      out.final = await tasks.getTaskResult(out.task.taskId, CallToolResultSchema);
      out.list = (await tasks.listTasks()).tasks.map((t) => t.taskId);
    }
    break;
  }
  case "killed":
  case "start": {
    const seen = await stream(arg);
    out.task = seen.find((m) => m.type === "taskCreated")?.task ?? null;
    break;
  }
  case "get":
    out.get = await tasks.getTask(arg);
    break;
  case "result":
    out.final = await tasks.getTaskResult(arg, CallToolResultSchema);
    break;
  case "cancel":
    out.cancel = await tasks.cancelTask(arg);
    break;
  case "plain":
    out.result = await client.callTool({ name: "submit_job", arguments: { shell: arg, wait_seconds: 10 } });
    break;
  case "watch": {
    const updated = new Promise((resolve) =>
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => resolve(n.params.uri)));
    out.templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    const submitted = await client.callTool({ name: "submit_job", arguments: { shell: arg, wait_seconds: 0 } });
    const uri = `execq://job/${submitted.structuredContent.job}`;
    await client.subscribeResource({ uri });
    out.updated = await Promise.race([updated, new Promise((r) => setTimeout(() => r(null), 60000).unref())]);
    out.record = JSON.parse((await client.readResource({ uri })).contents[0].text);
    out.stdout = (await client.readResource({ uri: `${uri}/stdout` })).contents[0].text;
    break;
  }
  default:
    throw new Error(`unknown step ${step}`);
}
if (step === "killed") {
  out.killed = transport.pid;
  process.kill(transport.pid, "SIGKILL");
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
